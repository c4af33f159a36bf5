// The `berth` launcher (bin/berth): it starts node with Berth's memory options unless the operator
// chose them, and `berth serve` behind it (the built dist/, as the package's bin runs it) serves.
// The options are read where the kernel records them, /proc/PID/cmdline and /proc/PID/environ, for
// the server and for its cluster workers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT, freePort } from '../helpers/registry.js';

const LAUNCHER = path.join(REPO_ROOT, 'bin', 'berth');
const YOUNG = '--max-semi-space-size=8';
const GROWTH = '--heap-growing-percent=100';
const GC = '--expose-gc';

interface Served {
  /** node's command line of the server process, without node itself. */
  argv: string[];
  /** The same for each cluster worker. */
  workers: string[][];
  /** glibc's malloc settings in the server's environment. */
  malloc: Record<string, string>;
}

async function cmdline(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
}

/** The MALLOC_* variables of a process's environment. */
async function mallocEnv(pid: number): Promise<Record<string, string>> {
  const vars = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter((v) => v.startsWith('MALLOC_'));
  return Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
}

async function childPids(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

describe('the berth launcher', () => {
  let dir = '';
  after(() => rm(dir, { recursive: true, force: true }));

  /** Runs `bin/berth serve` with `env` added, waits until /v2/ answers, reads the command lines, stops it. */
  async function serve(env: Record<string, string>, workers = 1): Promise<Served> {
    dir ||= await mkdtemp(path.join(tmpdir(), 'berth-launcher-'));
    const port = await freePort();
    const config = path.join(dir, `config-${port}.yml`);
    await writeFile(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  inmemory:\nhttp:\n  addr: 127.0.0.1:${port}\nberth:\n  workers: ${workers}\n`);
    const base = { ...process.env };
    delete base.NODE_OPTIONS;
    delete base.BERTH_NODE_ARGS;
    for (const name of Object.keys(base)) if (name.startsWith('MALLOC_')) delete base[name];
    const child = spawn('/bin/sh', [LAUNCHER, 'serve', config], { env: { ...base, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      // A safety net, not a timing: the loop ends as soon as /v2/ answers or the child exits.
      for (const deadline = Date.now() + 60_000; ; ) {
        assert.equal(child.exitCode, null, `berth serve exited: ${stderr}`);
        const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status === 200, () => false);
        if (ok) break;
        assert.ok(Date.now() < deadline, `berth serve did not answer: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const argv = (await cmdline(child.pid!)).slice(1);
      const pids = await childPids(child.pid!);
      return { argv, workers: await Promise.all(pids.map(async (pid) => (await cmdline(pid)).slice(1))), malloc: await mallocEnv(child.pid!) };
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }

  it('starts node with the young generation, heap growth and collections Berth is measured with', async () => {
    const { argv } = await serve({});
    const entry = argv.findIndex((a) => a.endsWith(path.join('bin', 'berth.cjs')));
    assert.ok(entry > 0, `node runs bin/berth.cjs: ${argv.join(' ')}`);
    assert.deepEqual(argv.slice(0, entry), [YOUNG, GROWTH, GC]);
    assert.deepEqual(argv.slice(entry + 1, entry + 2), ['serve']);
  });

  it("sets glibc's malloc as Berth is measured with, and keeps what the operator's environment sets", async () => {
    assert.deepEqual((await serve({})).malloc, { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '2097152', MALLOC_ARENA_MAX: '2' });
    const chosen = { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_ARENA_MAX: '8' };
    assert.deepEqual((await serve(chosen)).malloc, chosen);
  });

  it('gives the cluster workers the same options', async () => {
    const { workers } = await serve({}, 2);
    assert.equal(workers.length, 2, 'two workers');
    for (const argv of workers) {
      assert.ok(argv.includes(YOUNG), argv.join(' '));
      assert.ok(argv.includes(GROWTH), argv.join(' '));
      assert.ok(argv.includes(GC), argv.join(' '));
    }
  });

  it("leaves out what the operator's NODE_OPTIONS sets", async () => {
    const { argv } = await serve({ NODE_OPTIONS: '--max-semi-space-size=16' });
    assert.ok(!argv.includes(YOUNG), argv.join(' '));
    assert.ok(argv.includes(GROWTH), argv.join(' '));
  });

  it("puts BERTH_NODE_ARGS on node's command line in place of its own", async () => {
    const { argv } = await serve({ BERTH_NODE_ARGS: '--heap-growing-percent=30 --stack-size=900' });
    assert.ok(argv.includes('--heap-growing-percent=30'), argv.join(' '));
    assert.ok(argv.includes('--stack-size=900'), argv.join(' '));
    assert.ok(!argv.includes(GROWTH), argv.join(' '));
    assert.ok(argv.includes(YOUNG), argv.join(' '));
  });
});
