// Faults on real sockets: a connection cut in the middle of a blob download (a TCP proxy in front
// of Berth) is resumed with a Range request; a chunk that fails half-way is resumed from the
// session's Range; 429 and 503 are retried after Retry-After, 5xx and dropped connections with
// backoff, and no 4xx is ever sent twice (a small HTTP server that answers what each test needs).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Registry } from '../../src/client/remote/registry.js';
import { NotFoundError, RequestError, ServerError, TooManyRequestsError, UnauthorizedError } from '../../src/client/errors.js';
import { readAll } from '../../src/client/content/verify.js';
import { content, uniqueRepo } from './fixtures.js';
import { startRegistry, type Registry as TestRegistry } from '../helpers/registry.js';

function listen(server: net.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as net.AddressInfo).port}`)));
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('client faults against Berth', () => {
  let berth: TestRegistry;
  let upstream: net.AddressInfo & { host: string };
  before(async () => {
    berth = await startRegistry();
    const u = new URL(berth.url);
    upstream = { host: u.host, address: u.hostname, port: Number(u.port), family: 'IPv4' };
  });
  after(() => berth?.stop());

  it('resumes a blob download by Range after the connection breaks mid-body', async () => {
    const repo = uniqueRepo('faults');
    const blob = content(randomBytes(3 << 20));
    const direct = new Registry(upstream.host, { credentials: null });
    await direct.repository(repo).uploadBlob(blob.data, { digest: blob.desc.digest, size: blob.desc.size });
    direct.close();
    // A TCP proxy that cuts the first connection once 1 MiB has gone from the registry to the client.
    let cut = false;
    const heads: string[] = [];
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const server = net.connect(upstream.port, upstream.address);
      sockets.add(client).add(server);
      let down = 0;
      client.on('data', (d: Buffer) => { heads.push(d.toString('latin1', 0, Math.min(d.length, 2048))); server.write(d); });
      server.on('data', (d: Buffer) => {
        down += d.length;
        if (!cut && down > 1 << 20) {
          cut = true;
          client.write(d.subarray(0, 1000));
          client.destroy();
          server.destroy();
          return;
        }
        client.write(d);
      });
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
    });
    const host = await listen(proxy);
    const r = new Registry(host, { credentials: null, retry: { baseDelayMs: 10 } });
    try {
      const got = await readAll(await r.repository(repo).fetchBlob(blob.desc), 4 << 20);
      assert.equal(cut, true, 'the proxy cut the download');
      assert.ok(got.equals(blob.data), 'the content arrived whole and verified');
      assert.ok(heads.some((h) => /\r\nrange: bytes=[1-9][0-9]*-\r\n/i.test(h)), 'the rest was asked for with Range');
    } finally {
      r.close();
      for (const sock of sockets) sock.destroy();
      await close(proxy);
    }
  });

  it('resumes a chunked upload from the session\'s Range after a chunk fails half-way', async () => {
    // An HTTP proxy that lets the second PATCH reach the registry with only half of its body
    // (as a shorter, well-formed chunk) and answers the client 502, as a gateway would.
    let patches = 0;
    let failed = false;
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        const headers = { ...req.headers };
        let fail = false;
        if (req.method === 'PATCH' && ++patches === 2) {
          const [start] = String(req.headers['content-range']).split('-').map(Number);
          body = body.subarray(0, Math.floor(body.length / 2));
          headers['content-range'] = `${start}-${start! + body.length - 1}`;
          fail = failed = true;
        }
        headers['content-length'] = String(body.length);
        const up = http.request({ host: upstream.address, port: upstream.port, method: req.method, path: req.url, headers }, (ur) => {
          const out: Buffer[] = [];
          ur.on('data', (c: Buffer) => out.push(c));
          ur.on('end', () => {
            if (fail) { res.writeHead(502); res.end('bad gateway'); return; }
            res.writeHead(ur.statusCode ?? 500, ur.headers);
            res.end(Buffer.concat(out));
          });
        });
        up.end(body);
      });
    });
    const host = await listen(proxy);
    try {
      const reg = new Registry(host, { credentials: null, retry: { baseDelayMs: 10 } });
      const r = reg.repository(uniqueRepo('faults'));
      const blob = content(randomBytes(5 * 65536 + 123));
      const got = await r.uploadBlob(blob.data, { chunkSize: 65536 });
      assert.equal(failed, true, 'a chunk failed');
      assert.equal(got.digest.value, blob.desc.digest.value);
      assert.ok((await readAll(await r.fetchBlob(blob.desc), 1 << 20)).equals(blob.data));
      assert.equal(patches, 7, 'six chunks, one of them sent twice (its second half)');
      reg.close();
    } finally {
      proxy.closeAllConnections();
      await close(proxy);
    }
  });
});

describe('client retries', () => {
  type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;
  let handler: Handler;
  let seen: { method: string; url: string; at: number }[] = [];
  let server: http.Server;
  let host = '';
  before(async () => {
    server = http.createServer((req, res) => {
      seen.push({ method: req.method!, url: req.url!, at: Date.now() });
      req.resume();
      handler(req, res, seen.length);
    });
    host = await listen(server);
  });
  after(() => { server.closeAllConnections(); return close(server); });

  const registry = (attempts = 4) => new Registry(host, { credentials: null, retry: { attempts, baseDelayMs: 20, maxDelayMs: 100, maxRetryAfterMs: 2000 } });
  const setup = (h: Handler) => { handler = h; seen = []; };
  const ok = (res: http.ServerResponse) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{}'); };

  it('waits for Retry-After on 503, then succeeds', async () => {
    setup((_req, res, n) => { if (n === 1) { res.writeHead(503, { 'Retry-After': '1' }); res.end(); } else ok(res); });
    await registry().ping();
    assert.equal(seen.length, 2);
    assert.ok(seen[1]!.at - seen[0]!.at >= 950, `waited ${seen[1]!.at - seen[0]!.at} ms, Retry-After said 1 s`);
  });

  it('retries 429 (Retry-After 0) and a dropped connection', async () => {
    setup((req, res, n) => {
      if (n === 1) { req.socket.destroy(); return; }
      if (n <= 3) { res.writeHead(429, { 'Retry-After': '0', 'Content-Type': 'application/json' }); res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}'); return; }
      res.writeHead(200, { 'Content-Length': '5' }); res.end();
    });
    assert.equal(await registry().repository('a/b').statBlob(`sha256:${'2'.repeat(64)}`), 5);
    assert.equal(seen.length, 4);
  });

  it('gives up after the attempts with an error naming the registry, the request and the code', async () => {
    setup((_req, res) => { res.writeHead(503, { 'Content-Type': 'application/json' }); res.end('{"errors":[{"code":"UNAVAILABLE","message":"storage down"}]}'); });
    await assert.rejects(registry(3).repository('a/b').fetchManifest('v1'), (err: unknown) => {
      assert.ok(err instanceof ServerError, String(err));
      assert.equal(err.code, 'UNAVAILABLE');
      assert.equal(err.registry, host);
      assert.equal(err.request, `GET http://${host}/v2/a/b/manifests/v1`);
      assert.equal(err.message, `${host}: GET http://${host}/v2/a/b/manifests/v1: 503 UNAVAILABLE: storage down`);
      return true;
    });
    assert.equal(seen.length, 3);
  });

  it('does not wait for a Retry-After longer than allowed', async () => {
    setup((_req, res) => { res.writeHead(429, { 'Retry-After': '3600' }); res.end(); });
    await assert.rejects(registry().ping(), (err: unknown) => err instanceof TooManyRequestsError && err.code === 'TOOMANYREQUESTS');
    assert.equal(seen.length, 1);
  });

  it('never retries a 4xx', async () => {
    const cases: [number, string, (e: unknown) => boolean][] = [
      [400, '{"errors":[{"code":"MANIFEST_INVALID","message":"bad"}]}', (e) => e instanceof RequestError && e.code === 'MANIFEST_INVALID'],
      [404, '', (e) => e instanceof NotFoundError && e.code === 'MANIFEST_UNKNOWN'],
      [401, '', (e) => e instanceof UnauthorizedError],
      [413, '', (e) => e instanceof RequestError && e.status === 413],
    ];
    for (const [status, body, check] of cases) {
      setup((_req, res) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(body); });
      await assert.rejects(registry().repository('a/b').fetchManifest('v1'), check, `status ${status}`);
      assert.equal(seen.length, 1, `status ${status} sent once`);
    }
  });
});
