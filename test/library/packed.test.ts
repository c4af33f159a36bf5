import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../helpers/registry.js';

/**
 * The package as users get it: `npm pack` of this checkout (dist/ built by pretest) and of the
 * example plugin under test/fixtures, both installed into an empty project, then every `exports`
 * entry, every file in examples/ and the plugin used from there.
 *
 * The install is offline: the project gets a lockfile pinning Berth's dependencies to the
 * versions this checkout's package-lock.json pins (its non-dev entries), so `npm ci --offline`
 * takes every tarball from the npm cache that `npm ci` filled here, and needs no registry metadata
 * (which `npm ci` does not cache, so `npm install <tarball> --offline` would fail on a fresh machine).
 */

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = path.join(REPO, 'test/fixtures/berth-plugin-example');
const TSC = path.join(REPO, 'node_modules/typescript/bin/tsc');
// NODE_TEST_CONTEXT would make a child `node --test` report to this runner instead of its stdout.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_') && !k.startsWith('npm_') && k !== 'NODE_TEST_CONTEXT'));

interface Packed {
  filename: string;
  integrity: string;
  files: { path: string }[];
}

type LockEntry = Record<string, unknown> & { dev?: boolean; link?: boolean };

/** package.json and package-lock.json of a project depending on the two tarballs, pinned as this checkout pins its dependencies. */
async function pinnedProject(project: string, berth: Packed, plugin: Packed): Promise<void> {
  const repoLock = JSON.parse(await readFile(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as Record<string, unknown>;
  const fixture = JSON.parse(await readFile(path.join(FIXTURE, 'package.json'), 'utf8')) as Record<string, unknown>;
  const dependencies = { berth: `file:../${berth.filename}`, 'berth-plugin-example': `file:../${plugin.filename}` };
  const packages: Record<string, unknown> = { '': { name: 'uses-berth', version: '1.0.0', dependencies } };
  for (const [where, entry] of Object.entries(repoLock.packages)) {
    if (where.startsWith('node_modules/') && !entry.dev && !entry.link) packages[where] = entry;
  }
  const pick = (from: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.filter((k) => from[k] !== undefined).map((k) => [k, from[k]]));
  packages['node_modules/berth'] = { resolved: dependencies.berth, integrity: berth.integrity, ...pick(pkg, ['version', 'license', 'dependencies', 'bin', 'engines']) };
  packages['node_modules/berth-plugin-example'] = { resolved: dependencies['berth-plugin-example'], integrity: plugin.integrity, ...pick(fixture, ['version', 'license', 'peerDependencies']) };
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'uses-berth', version: '1.0.0', private: true, type: 'module', dependencies }));
  await writeFile(path.join(project, 'package-lock.json'), JSON.stringify({ name: 'uses-berth', version: '1.0.0', lockfileVersion: 3, requires: true, packages }));
}

async function pack(dir: string, into: string): Promise<Packed> {
  // --ignore-scripts: pretest built dist/ already, and rebuilding it here would race other tests reading it.
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', into], { cwd: dir, env: cleanEnv, maxBuffer: 16 * 1024 * 1024 });
  const [result] = JSON.parse(stdout) as Packed[];
  return result!;
}

function node(args: string[], cwd: string, timeout = 120_000) {
  return run(process.execPath, args, { cwd, env: cleanEnv, timeout, maxBuffer: 16 * 1024 * 1024 });
}

describe('the packed package, installed into an empty project', () => {
  let work: string;
  let project: string;
  let packed: Packed;
  let entries: string[];
  let examples: string[];

  before(async () => {
    await stat(path.join(REPO, 'dist/index.js')); // built by `npm test`'s pretest (and by npm ci's prepare)
    work = await mkdtemp(path.join(os.tmpdir(), 'berth-packed-'));
    project = path.join(work, 'project');
    await mkdir(project);
    packed = await pack(REPO, work);
    const plugin = await pack(FIXTURE, work);
    await pinnedProject(project, packed, plugin);
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: project, env: cleanEnv, timeout: 240_000 }).catch((err: { stderr?: string }) => {
      throw new Error(`npm ci --offline of the packed package failed (has npm ci run here, filling the npm cache?):\n${err.stderr ?? String(err)}`);
    });
    const pkg = JSON.parse(await readFile(path.join(project, 'node_modules/berth/package.json'), 'utf8')) as { exports: Record<string, unknown> };
    entries = Object.keys(pkg.exports).filter((e) => e !== './package.json');
    examples = (await readdir(path.join(REPO, 'examples'))).filter((f) => f.endsWith('.ts')).sort();
    // The examples and a file importing every entry, type-checked against the installed declarations and compiled.
    for (const file of examples) await cp(path.join(REPO, 'examples', file), path.join(project, file));
    const specifiers = entries.map((e) => (e === '.' ? 'berth' : `berth/${e.slice(2)}`));
    await writeFile(path.join(project, 'entries.ts'), specifiers.map((s, i) => `import * as entry${i} from '${s}';\nconsole.log(${JSON.stringify(s)}, Object.keys(entry${i}).length);\n`).join(''));
    await writeFile(path.join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: true,
        outDir: 'out', rootDir: '.', types: ['node'], typeRoots: [path.join(REPO, 'node_modules/@types')],
      },
      include: ['*.ts'],
    }));
    await run(process.execPath, [TSC, '-p', project], { cwd: project, env: cleanEnv, timeout: 120_000 }).catch((err: { stdout?: string }) => {
      throw new Error(`the examples do not type-check against the packed package:\n${err.stdout ?? String(err)}`);
    });
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('holds what its entry points need and nothing of the tests', async () => {
    const files = packed.files.map((f) => f.path);
    for (const required of ['package.json', 'README.md', 'bin/berth', 'bin/berth.cjs', 'dist/cli.js', 'dist/index.js', 'dist/index.d.ts']) assert.ok(files.includes(required), `${required} is packed`);
    const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>> };
    for (const [entry, target] of Object.entries(pkg.exports)) {
      const targets = typeof target === 'string' ? [target] : Object.values(target);
      for (const t of targets) assert.ok(files.includes(t.replace(/^\.\//, '')), `${entry} → ${t} is packed`);
      if (typeof target !== 'string') assert.ok(target.types, `${entry} has types`);
    }
    const unwanted = files.filter((f) => /^(test|src|bench|scripts|examples)\/|\.test\.|\.map$/.test(f));
    assert.deepEqual(unwanted, [], 'no tests, sources or source maps in the package');
  });

  it('imports every exports entry as ESM, with its types', async () => {
    assert.ok(entries.includes('.') && entries.includes('./testing'), entries.join(', '));
    const { stdout } = await node(['out/entries.js'], project);
    const counts = Object.fromEntries(stdout.trim().split('\n').map((line) => line.split(' ')));
    for (const entry of entries) {
      const specifier = entry === '.' ? 'berth' : `berth/${entry.slice(2)}`;
      assert.ok(Number(counts[specifier]) > 0, `${specifier} exports something`);
    }
  });

  it('is ES modules, which require() loads where Node can (20.19+, 22.12+) and import() everywhere', async () => {
    // The package has no CommonJS build (two copies of the registries plugins fill would be a
    // hazard). Node loads an ES module graph without top-level await through require() since
    // 20.19 and 22.12 (process.features.require_module); older versions throw ERR_REQUIRE_ESM.
    const script = `
      const specifiers = ${JSON.stringify(entries.map((e) => (e === '.' ? 'berth' : `berth/${e.slice(2)}`)))};
      (async () => {
        for (const s of specifiers) {
          let required;
          try { required = Object.keys(require(s)).length > 0 ? 'loaded' : 'empty'; } catch (err) { required = err.code; }
          const imported = Object.keys(await import(s)).length > 0 ? 'loaded' : 'empty';
          console.log(s, required, imported);
        }
      })();`;
    await writeFile(path.join(project, 'require.cjs'), script);
    const { stdout } = await node(['require.cjs'], project);
    const requireLoadsEsm = (process.features as { require_module?: boolean }).require_module === true;
    for (const line of stdout.trim().split('\n')) {
      const [specifier, required, imported] = line.split(' ');
      assert.equal(imported, 'loaded', `import() of ${specifier} from CommonJS`);
      assert.equal(required, requireLoadsEsm ? 'loaded' : 'ERR_REQUIRE_ESM', `require(${specifier}) on Node ${process.versions.node}`);
    }
    assert.equal(stdout.trim().split('\n').length, entries.length);
  });

  it('runs every example in examples/ against the installed package', async () => {
    assert.ok(examples.length >= 3, examples.join(', '));
    for (const file of examples) {
      const js = path.join('out', file.replace(/\.ts$/, '.js'));
      const result = await node([js], project).catch((err: { stdout?: string; stderr?: string }) => {
        throw new Error(`examples/${file} failed:\n${err.stdout ?? ''}${err.stderr ?? String(err)}`);
      });
      assert.doesNotMatch(result.stdout, /^# fail [1-9]|^ℹ fail [1-9]/m, `examples/${file}`);
    }
  });

  it("runs the example plugin's driver through berth/testing's driver suite", async () => {
    await cp(path.join(FIXTURE, 'driver.test.js'), path.join(project, 'driver.test.js'));
    const { stdout } = await node(['--test', '--test-reporter=tap', 'driver.test.js'], project, 300_000).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`the plugin's driver test failed:\n${err.stdout ?? ''}${err.stderr ?? String(err)}`);
    });
    assert.match(stdout, /^# pass [1-9]\d*$/m);
    assert.match(stdout, /^# fail 0$/m);
    assert.match(stdout, /storage driver suite: berth-plugin-example/);
  });

  describe('plugins through berth serve', () => {
    const serve = async (config: string): Promise<{ url: string; child: ChildProcess; stderr: () => string; stop(): Promise<void> }> => {
      const port = await freePort();
      const file = path.join(project, `config-${port}.yml`);
      await writeFile(file, config.replaceAll('{{addr}}', `127.0.0.1:${port}`));
      // The installed command, as npm links it (node_modules/.bin/berth → the package's bin/berth).
      const child = spawn('node_modules/.bin/berth', ['serve', file], { cwd: project, env: cleanEnv, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const url = `http://127.0.0.1:${port}`;
      const stop = async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
      };
      for (let i = 0; ; i++) {
        if (child.exitCode !== null) throw new Error(`berth serve exited: ${stderr}`);
        const res = await fetch(`${url}/`).catch(() => undefined);
        if (res) break;
        if (i > 200) {
          await stop();
          throw new Error(`berth serve did not start: ${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return { url, child, stderr: () => stderr, stop };
    };

    it("serves with the plugin's storage driver, access controller and notification sink", async () => {
      const root = path.join(work, 'plugin-root');
      const events = path.join(work, 'events.jsonl');
      const registry = await serve(`version: 0.1
log:
  level: error
storage:
  berth-plugin-example:
    rootdirectory: ${root}
    prefix: /kept-here
auth:
  example-users:
    users:
      alice: wonderland
notifications:
  endpoints:
    - name: to-a-file
      sink: example-file
      options:
        path: ${events}
http:
  addr: {{addr}}
`);
      try {
        const auth = { authorization: `Basic ${Buffer.from('alice:wonderland').toString('base64')}` };
        const anonymous = await fetch(`${registry.url}/v2/`);
        assert.equal(anonymous.status, 401);
        assert.equal(anonymous.headers.get('www-authenticate'), 'Basic realm="example"');
        assert.equal((await fetch(`${registry.url}/v2/`, { headers: { authorization: 'Basic YWxpY2U6bm8=' } })).status, 401);
        const data = new TextEncoder().encode('through a plugin');
        const digest = `sha256:${(await import('node:crypto')).createHash('sha256').update(data).digest('hex')}`;
        const start = await fetch(`${registry.url}/v2/demo/blobs/uploads/`, { method: 'POST', headers: auth });
        assert.equal(start.status, 202);
        const location = new URL(start.headers.get('location')!, registry.url);
        location.searchParams.set('digest', digest);
        assert.equal((await fetch(location, { method: 'PUT', body: data, headers: auth })).status, 201);
        const got = await fetch(`${registry.url}/v2/demo/blobs/${digest}`, { headers: auth });
        assert.equal(await got.text(), 'through a plugin');
        // The driver kept the layout under its prefix.
        const hex = digest.slice('sha256:'.length);
        assert.equal(await readFile(path.join(root, 'kept-here/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'), 'utf8'), 'through a plugin');
        // The sink got the push and the pull (delivered in the background: wait for them).
        let lines: { action: string; target: { digest: string }; actor: { name?: string } }[] = [];
        for (let i = 0; i < 100 && lines.length < 2; i++) {
          lines = (await readFile(events, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
          if (lines.length < 2) await new Promise((r) => setTimeout(r, 50));
        }
        assert.deepEqual(lines.map((e) => [e.action, e.target.digest, e.actor.name]), [['push', digest, 'alice'], ['pull', digest, 'alice']]);
      } finally {
        await registry.stop();
      }
      assert.equal(registry.child.exitCode, 0, registry.stderr());
    });

    it('stops start-up with one line naming a plugin that cannot be loaded', async () => {
      await writeFile(path.join(project, 'broken-plugin.js'), "throw new Error('broken on purpose');\n");
      await writeFile(path.join(project, 'not-a-plugin.js'), 'export const nothing = 1;\n');
      const cases: [string, string][] = [
        ['berth:\n  plugins: [berth-plugin-missing]', 'berth: plugin "berth-plugin-missing": not found (install it beside berth: npm install berth-plugin-missing)'],
        ['berth:\n  plugins: [./broken-plugin.js]', 'berth: plugin "./broken-plugin.js": cannot be loaded: broken on purpose'],
        ['berth:\n  plugins: [./not-a-plugin.js]', 'berth: plugin "./not-a-plugin.js": exports no register function (export default { register(berth) { … } }: docs/extending.md)'],
        ['berth:\n  plugins: [berth-plugin-example]\nauth:\n  example-users:\n    users: {}', 'berth: auth.example-users.users: at least one user is required'],
        ['storage:\n  berth-driver-nowhere: {}', 'berth: storage: unknown driver "berth-driver-nowhere" (known: azure, filesystem, inmemory, s3; no package "berth-driver-nowhere" is installed beside berth)'],
      ];
      for (const [yaml, line] of cases) {
        const file = path.join(project, 'bad.yml');
        const storage = yaml.startsWith('storage') ? '' : 'storage:\n  inmemory:\n';
        await writeFile(file, `version: 0.1\nlog:\n  level: error\n${storage}${yaml}\nhttp:\n  addr: 127.0.0.1:0\n`);
        const result = await node(['node_modules/berth/bin/berth.cjs', 'serve', file], project).then(
          (r) => ({ code: 0, stderr: r.stderr }),
          (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
        );
        assert.equal(result.code, 1, yaml);
        assert.equal(result.stderr, `${line}\n`, 'the one line and nothing else');
      }
    });
  });
});
