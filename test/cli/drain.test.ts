// `berth serve` stopping on a signal, as the README documents it: it stops accepting connections,
// lets requests in flight finish (for up to http.draintimeout; 0 waits for all), and a second
// signal exits at once. The built command runs as a child; a large download the test does not
// read is the request in flight.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/registry.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const cli = path.join(repo, 'dist', 'cli.js');

interface Served {
  child: ChildProcess;
  url: string;
  port: number;
  /** Everything the process wrote to stderr (its log), read once it has exited. */
  log(): string;
  exited: Promise<number | null>;
  cleanup(): Promise<void>;
}

async function serve(drainTimeout: string): Promise<Served> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-drain-'));
  const port = await freePort();
  const file = path.join(dir, 'config.yml');
  await writeFile(file, `version: 0.1\nlog:\n  level: info\n  formatter: json\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n  draintimeout: ${drainTimeout}\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
  const child = spawn(process.execPath, [cli, 'serve', file], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (!(await answers(url))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`berth serve did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    url,
    port,
    log: () => stderr,
    exited,
    async cleanup() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/`);
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Resolves once a new connection to the port is refused: the server has stopped listening. */
async function refusing(port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', () => resolve(true));
    });
    if (refused) return;
    if (Date.now() > deadline) throw new Error('the server kept accepting connections');
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Several times what loopback socket buffers hold, so that the server is still writing it.
const BLOB = Buffer.alloc(32 * 1024 * 1024, 7);
const BLOB_DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`;

/**
 * Pushes a 32 MiB blob and starts downloading it without reading: the server's response stalls
 * on a full socket, so the request stays in flight until `read()` takes the bytes. `body`
 * settles with the bytes received, or rejects when the connection is cut.
 */
async function heldDownload(url: string) {
  const push = await fetch(`${url}/v2/drain/test/blobs/uploads/?digest=${BLOB_DIGEST}`, { method: 'POST', body: BLOB, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(push.status, 201);
  let res!: http.IncomingMessage;
  const started = new Promise<void>((resolve, reject) => {
    const req = http.get(`${url}/v2/drain/test/blobs/${BLOB_DIGEST}`, { agent: false }, (r) => {
      res = r;
      r.pause();
      resolve();
    });
    req.on('error', reject);
  });
  await started;
  assert.equal(res.statusCode, 200);
  const body = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => (res.complete ? resolve(Buffer.concat(chunks)) : reject(new Error('response cut short'))));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('response aborted')));
  });
  body.catch(() => undefined);
  return { body, read: () => res.resume() };
}

test('SIGTERM: no new connections, the request in flight finishes, then the process exits 0', { timeout: 120_000 }, async () => {
  const s = await serve('0s');
  try {
    const held = await heldDownload(s.url);
    s.child.kill('SIGTERM');
    await refusing(s.port);
    assert.equal(s.child.exitCode, null, 'still running while a request is in flight (draintimeout 0 waits for all)');
    held.read();
    const body = await held.body;
    assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, BLOB_DIGEST, 'the download in flight completed');
    assert.equal(await s.exited, 0);
    assert.match(s.log(), /SIGTERM received; draining in-flight requests/);
    assert.match(s.log(), /"msg":"stopped"/);
  } finally {
    await s.cleanup();
  }
});

test('SIGTERM with http.draintimeout: a request still running when it ends is cut off, and the process exits 0', { timeout: 120_000 }, async () => {
  const s = await serve('1s');
  try {
    const held = await heldDownload(s.url);
    const signalled = Date.now();
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
    assert.ok(Date.now() - signalled >= 1000, 'it waited for the drain timeout');
    held.read();
    await assert.rejects(held.body, 'the held download was cut off');
  } finally {
    await s.cleanup();
  }
});

test('a second signal exits at once, without waiting for requests in flight', { timeout: 120_000 }, async () => {
  const s = await serve('0s');
  try {
    const held = await heldDownload(s.url);
    s.child.kill('SIGTERM');
    await refusing(s.port);
    s.child.kill('SIGINT');
    assert.equal(await s.exited, 1);
    held.read();
    await assert.rejects(held.body, 'the held download was cut off');
    assert.match(s.log(), /SIGINT received again; exiting without waiting/);
  } finally {
    await s.cleanup();
  }
});
