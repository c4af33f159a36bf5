#!/usr/bin/env node
// Runs every test file under test/ with Node's test runner (TypeScript through tsx).
// Node 20's --test takes no globs, so the files are found here. Extra arguments are passed on
// (e.g. `npm test -- test/api/blobs.test.ts` runs only that file).
// First it checks the system packages the tests need (the list is scripts/ci-setup.sh's): as root
// it installs what is missing through that script; otherwise it stops, naming the command to run.
// The whole suite starts with `npm run typecheck`: tsx strips types without checking them, so a
// type error in a test or the UI would otherwise pass CI.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function ensureSystemPackages() {
  const setup = 'scripts/ci-setup.sh';
  const probe = spawnSync('bash', [setup, '--missing'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.error(`run-tests: could not check the system packages (${setup} --missing): ${probe.stderr.trim()}`);
    process.exit(1);
  }
  const missing = probe.stdout.trim();
  if (missing === '') return;
  if (process.getuid?.() !== 0) {
    console.error(`run-tests: system packages missing (${missing}); install them with: sudo bash ${setup}`);
    process.exit(1);
  }
  console.log(`run-tests: installing missing system packages with ${setup}: ${missing}`);
  const install = spawnSync('bash', [setup], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (install.status !== 0) {
    process.stderr.write(`${install.stdout}${install.stderr}`);
    console.error(`run-tests: ${setup} failed (exit ${install.status})`);
    process.exit(1);
  }
}

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

ensureSystemPackages();
const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const selected = files.length ? files : find('test');
if (!files.length) {
  const typecheck = spawnSync('npm', ['run', '--silent', 'typecheck'], { stdio: 'inherit' });
  if (typecheck.status !== 0) {
    console.error('run-tests: npm run typecheck failed');
    process.exit(typecheck.status ?? 1);
  }
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...flags, ...selected],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
