/**
 * `berth garbage-collect` end to end as a child process (dist/cli.js: run `npm run build` first),
 * and the drop-in check: Distribution 2.8.2's own `docker-registry garbage-collect --dry-run`
 * on the same populated root agrees with Berth's dry run on what would be deleted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { blobsOnDisk, populate, serve, type Populated } from './fixture.js';
import { REPO_ROOT } from '../helpers/registry.js';
import { DISTRIBUTION_BINARY } from '../helpers/target.js';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

interface Ran { code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const eligible = (out: string) => new Set(out.split('\n').filter((l) => l.startsWith('blob eligible for deletion: ')).map((l) => l.slice(28).trim()));
const summary = (out: string) => out.split('\n').find((l) => / blobs marked, /.test(l))?.trim();

let base: string;
let root: string;
let configPath: string;
let fixture: Populated;

before(async () => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run npm run build`);
  const s = await serve();
  fixture = await populate(s.reg);
  await s.stop({ keep: true });
  base = s.base;
  root = s.root;
  configPath = path.join(base, 'config.yml');
  // grace 0s: this root was written seconds ago and the test wants Distribution's behaviour.
  await writeFile(configPath, ['version: 0.1', 'storage:', '  filesystem:', `    rootdirectory: ${root}`, 'berth:', '  gc:', '    grace: 0s', ''].join('\n'));
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('garbage-collect command line', () => {
  it("agrees with Distribution 2.8.2's dry run on the same root", async () => {
    const theirs = await run(DISTRIBUTION_BINARY, ['garbage-collect', '--dry-run', configPath]);
    assert.equal(theirs.code, 0, theirs.stderr);
    const ours = await run(process.execPath, [CLI, 'garbage-collect', '--dry-run', configPath]);
    assert.equal(ours.code, 0, ours.stderr);
    assert.deepEqual(eligible(ours.stdout), eligible(theirs.stdout));
    assert.deepEqual(eligible(ours.stdout), fixture.garbage);
    assert.equal(summary(ours.stdout), summary(theirs.stdout));
    assert.deepEqual(await blobsOnDisk(root), fixture.all);
  });

  it('-q prints only the summary; a real run deletes the garbage; -m then deletes untagged manifests', async () => {
    const quiet = await run(process.execPath, [CLI, 'garbage-collect', '-d', '-q', configPath]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.deepEqual(quiet.stdout.trim().split('\n'), [`${summary(quiet.stdout)}`]);

    const real = await run(process.execPath, [CLI, 'garbage-collect', configPath]);
    assert.equal(real.code, 0, real.stderr);
    const left = new Set([...fixture.all].filter((d) => !fixture.garbage.has(d)));
    assert.deepEqual(await blobsOnDisk(root), left);

    const untagged = await run(process.execPath, [CLI, 'garbage-collect', '--delete-untagged', configPath]);
    assert.equal(untagged.code, 0, untagged.stderr);
    for (const m of fixture.untaggedManifests) assert.ok(untagged.stdout.includes(`manifest eligible for deletion: ${m}`), m);
    assert.deepEqual(await blobsOnDisk(root), new Set([...left].filter((d) => !fixture.untaggedGarbage.has(d))));
  });

  it('a bad configuration exits 1 with one line naming the key', async () => {
    const bad = path.join(base, 'bad.yml');
    await writeFile(bad, ['version: 0.1', 'storage:', '  filesystem:', `    rootdirectory: ${root}`, 'berth:', '  gc:', '    grace: soon', ''].join('\n'));
    const r = await run(process.execPath, [CLI, 'garbage-collect', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr.trim(), /^berth: berth\.gc\.grace: /);
  });
});
