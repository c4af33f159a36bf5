import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rename, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBerth, waitFor } from '../notifications/harness.js';

async function health(debugUrl: string): Promise<{ status: number; body: Record<string, string> }> {
  const r = await fetch(`${debugUrl}/debug/health`);
  return { status: r.status, body: (await r.json()) as Record<string, string> };
}

test('the storage check turns red when the root can no longer be written, and green again', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-health-'));
  const root = path.join(dir, 'root');
  await mkdir(root);
  const berth = await startBerth(`
storage:
  filesystem:
    rootdirectory: ${root}
http:
  addr: 127.0.0.1:0
  debug:
    addr: 127.0.0.1:0
health:
  storagedriver:
    enabled: true
    interval: 50ms
    threshold: 2
`);
  t.after(async () => {
    await berth.close();
    await rm(dir, { recursive: true, force: true });
  });
  const debug = berth.debugUrl!;
  await waitFor('healthy at start', async () => ((await health(debug)).status === 200 ? true : undefined));
  assert.deepEqual((await health(debug)).body, {});
  assert.equal((await fetch(`${berth.url}/v2/`)).status, 200);

  // Root-proof: chmod does not stop root, so the root directory is replaced by a regular file.
  await rename(root, `${root}.away`);
  await writeFile(root, 'not a directory');
  const red = await waitFor('storage check red', async () => {
    const h = await health(debug);
    return h.status === 503 ? h : undefined;
  });
  assert.deepEqual(Object.keys(red.body), ['storagedriver_filesystem']);
  assert.ok(red.body.storagedriver_filesystem);

  // Every registry request answers 503 UNAVAILABLE while a check fails, as Distribution does.
  const v2 = await fetch(`${berth.url}/v2/`);
  assert.equal(v2.status, 503);
  const body = (await v2.json()) as { errors: { code: string; detail: unknown }[] };
  assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
  assert.ok(v2.headers.get('x-request-id'));
  assert.equal((await fetch(`${berth.url}/v2/some/repo/tags/list`)).status, 503);
  assert.ok(berth.logs.some((l) => l.msg === 'health check failing' && l.check === 'storagedriver_filesystem'));

  await rm(root);
  await rename(`${root}.away`, root);
  await waitFor('storage check green', async () => ((await health(debug)).status === 200 ? true : undefined));
  assert.equal((await fetch(`${berth.url}/v2/`)).status, 200);
  assert.ok(berth.logs.some((l) => l.msg === 'health check passing again'));
});

test('file, http and tcp checks, and taking a node down by hand', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-health-'));
  const maintenance = path.join(dir, 'maintenance');
  let upstreamStatus = 200;
  let seenAuth: string | undefined;
  const upstream = http.createServer((req, res) => {
    seenAuth = req.headers.authorization;
    res.writeHead(req.method === 'HEAD' ? upstreamStatus : 405).end();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  // A port with nothing listening: bind one, note it, close it.
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));

  const berth = await startBerth(`
storage:
  inmemory: {}
http:
  addr: 127.0.0.1:0
  debug:
    addr: 127.0.0.1:0
health:
  file:
    - file: ${maintenance}
      interval: 50ms
  http:
    - uri: http://127.0.0.1:${upstreamPort}/ping
      headers:
        Authorization: [Basic c2VjcmV0OnNlY3JldA==]
      statuscode: 204
      timeout: 1s
      interval: 50ms
  tcp:
    - addr: 127.0.0.1:${upstreamPort}
      timeout: 1s
      interval: 50ms
    - addr: 127.0.0.1:${closedPort}
      timeout: 1s
      interval: 50ms
      threshold: 1
`);
  t.after(async () => {
    await berth.close();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  const debug = berth.debugUrl!;
  const httpName = `http://127.0.0.1:${upstreamPort}/ping`;

  // The upstream answers 200 where 204 is expected, and nothing listens on the closed port.
  let h = await waitFor('http and tcp checks red', async () => {
    const s = await health(debug);
    return Object.keys(s.body).length === 2 ? s : undefined;
  });
  assert.equal(h.status, 503);
  assert.match(h.body[httpName]!, /unexpected status: 200/);
  assert.match(h.body[`127.0.0.1:${closedPort}`]!, /connection to 127\.0\.0\.1:\d+ failed/);
  assert.equal(seenAuth, 'Basic c2VjcmV0OnNlY3JldA==');

  upstreamStatus = 204;
  const reopened = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => reopened.listen(closedPort, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => reopened.close(() => resolve())));
  await waitFor('all green', async () => ((await health(debug)).status === 200 ? true : undefined));

  // Distribution's file check: red while the file exists.
  await writeFile(maintenance, '');
  h = await waitFor('file check red', async () => {
    const s = await health(debug);
    return s.status === 503 ? s : undefined;
  });
  assert.deepEqual(h.body, { [maintenance]: 'file exists' });
  await rm(maintenance);
  await waitFor('file check green', async () => ((await health(debug)).status === 200 ? true : undefined));

  // POST /debug/health/down and /up.
  assert.equal((await fetch(`${debug}/debug/health/down`, { method: 'POST' })).status, 200);
  h = await health(debug);
  assert.equal(h.status, 503);
  assert.deepEqual(Object.keys(h.body), ['manual_http_status']);
  assert.equal((await fetch(`${berth.url}/v2/`)).status, 503);
  assert.equal((await fetch(`${debug}/debug/health/up`, { method: 'POST' })).status, 200);
  assert.equal((await health(debug)).status, 200);
  assert.equal((await fetch(`${berth.url}/v2/`)).status, 200);

  // Header values of checks (credentials) are never logged.
  assert.ok(!JSON.stringify(berth.logs).includes('c2VjcmV0'));
});
