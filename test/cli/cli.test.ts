import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// Runs the built binary (npm run build first), as users and the package `bin` do.
const repo = fileURLToPath(new URL('../..', import.meta.url));
const cli = path.join(repo, 'dist', 'cli.js');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...env, ...extraEnv }, timeout: 30_000 });
}

test('--version prints the version from package.json', async () => {
  const pkg = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string };
  const result = run(['--version']);
  assert.equal(result.status, 0);
  assert.equal(result.stdout.trim(), `berth ${pkg.version}`);
});

test('--help lists the commands', () => {
  const result = run(['--help']);
  assert.equal(result.status, 0);
  assert.match(result.stdout, /Usage: berth/);
  assert.match(result.stdout, /serve \[CONFIG\]/);
  assert.match(result.stdout, /garbage-collect/);
});

test('--help lists every client verb too', () => {
  const result = run(['--help']);
  assert.equal(result.status, 0);
  for (const verb of ['login', 'logout', 'copy', 'push', 'pull', 'ls', 'tags', 'inspect', 'digest', 'tag', 'delete', 'referrers', 'attach', 'blob']) {
    assert.match(result.stdout, new RegExp(`\\n  ${verb} `), verb);
  }
});

/** The files of dist/ a run of `berth ARGS` loads (a module-resolution hook writes each one to a file). */
async function loadedModules(args: string[]): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-cli-modules-'));
  try {
    const log = path.join(dir, 'modules.log');
    const hooks = `import { appendFileSync } from 'node:fs';
      export async function resolve(specifier, context, next) {
        const r = await next(specifier, context);
        appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
        return r;
      }`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
    await writeFile(log, '');
    const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, cli, ...args], { encoding: 'utf8', env, timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const dist = `${new URL('../../dist/', import.meta.url)}`;
    return [...new Set((await readFile(log, 'utf8')).split('\n').filter((u) => u.startsWith(dist)).map((u) => u.slice(dist.length)))];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a verb loads its own modules only: a client verb no other verb\'s, the server\'s verbs no client verb', async () => {
  const tags = await loadedModules(['tags', '--help']);
  assert.ok(tags.includes('cli/tags.js'), tags.join(' '));
  for (const other of ['cli/copy.js', 'cli/login.js', 'cli/blob.js', 'cli/inspect.js', 'cli/serve.js', 'cli/common/progress.js']) assert.ok(!tags.includes(other), `tags loaded ${other}`);
  const copy = await loadedModules(['copy', '--help']);
  assert.ok(copy.includes('cli/copy.js'));
  assert.ok(!copy.includes('cli/tags.js') && !copy.includes('cli/attach.js'), copy.join(' '));
  const serve = await loadedModules(['serve', '--help']);
  assert.deepEqual(serve.filter((m) => m.startsWith('cli/') || m.startsWith('client/')).sort(), ['cli/common/errors.js', 'client/errors.js']);
});

test('serve --help describes the CONFIG argument', () => {
  const result = run(['serve', '--help']);
  assert.equal(result.status, 0);
  assert.match(result.stdout, /Usage: berth serve \[options\] \[CONFIG\]/);
});

test('serve with a missing file prints one line and exits 1', () => {
  const result = run(['serve', '/nonexistent/berth.yml']);
  assert.equal(result.status, 1);
  assert.equal(result.stderr, 'berth: config file /nonexistent/berth.yml: not found\n');
});

test('serve with a bad configuration prints one line and exits 1', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-cli-'));
  try {
    const file = path.join(dir, 'config.yml');
    await writeFile(file, 'version: 0.1\nstorage:\n  inmemory:\n  delete:\n    enabled: "maybe"\n');
    const bad = run(['serve', file]);
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, 'berth: storage.delete.enabled: invalid boolean "maybe" (expected true or false)\n');
    await writeFile(file, 'version: 0.1\nstorage: inmemory\n');
    const badEnv = run(['serve', file], { REGISTRY_HTTP_DRAINTIMEOUT: 'abc' });
    assert.equal(badEnv.status, 1);
    assert.equal(badEnv.stderr, 'berth: http.draintimeout: invalid duration "abc" (set by REGISTRY_HTTP_DRAINTIMEOUT)\n');
    const viaEnv = run(['serve'], { REGISTRY_CONFIGURATION_PATH: path.join(dir, 'absent.yml') });
    assert.equal(viaEnv.status, 1);
    assert.equal(viaEnv.stderr, `berth: config file ${path.join(dir, 'absent.yml')}: not found\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('garbage-collect with a missing configuration file prints one line and exits 1', () => {
  const result = run(['garbage-collect', '/nonexistent/berth.yml', '--dry-run', '-m', '-q']);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /^berth: .*\/nonexistent\/berth\.yml.*\n$/);
});

test('serve starts, answers GET /v2/, and exits 0 on SIGTERM', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-cli-'));
  const child = spawn(process.execPath, [cli, 'serve'], {
    cwd: dir,
    env: { ...env, REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_LOG_FORMATTER: 'json', REGISTRY_LOG_FIELDS_SERVICE: 'cli-test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /"url":"([^"]+)"/.exec(output);
        if (match?.[1]) resolve(match[1]);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${output}`)));
    });
    const response = await fetch(new URL('/v2/', url));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await response.arrayBuffer();
    assert.match(output, /"service":"cli-test"/);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
