// The upstream client's response body against a real HTTP server: the bytes arrive whole even
// when the fetch Response is garbage-collected before the body is first read (fetch cancels an
// unlocked body then, which read as an empty blob: "upstream sent 0 of N bytes" under load).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { Upstream } from '../../src/proxy/upstream.js';
import { upstreamMetrics } from '../../src/proxy/metrics.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const data = randomBytes(256 * 1024);
let server: http.Server;
let url: string;

before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Length': data.length, 'Content-Type': 'application/octet-stream' });
    res.end(data);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('a body taken before the response is garbage-collected is read whole', async () => {
  const upstream = new Upstream({ prefix: '', remoteurl: url, ttlMs: 0, timeoutMs: 10_000, idleTimeoutMs: 10_000 }, 'gc-test', upstreamMetrics('gc-test'), pino({ level: 'silent' }));
  // As the mirror does: take the body stream at once, read it later (after storage calls).
  const body = (await upstream.request('GET', '/v2/x/blobs/sha256:0', 'repository:x:pull')).body();
  for (let i = 0; i < 5; i++) {
    gc();
    await tick();
  }
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  assert.equal(Buffer.concat(chunks).length, data.length);
  assert.ok(Buffer.concat(chunks).equals(data));
});
