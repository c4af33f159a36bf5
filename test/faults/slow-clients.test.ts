/**
 * Slow and hostile clients. With short limits (berth.http): endless headers and a silent
 * connection are closed after the header timeout, a body that stalls after the body timeout (the
 * upload resumes from the Range it reports), a body that trickles but never stalls is taken whole,
 * and connections past maxconnections are closed as they arrive; an answer is given however long
 * it takes once the body is in, or when there is none. With the defaults: 1,000 idle
 * connections, an upload at 1 KiB/s and a client sending headers forever, while the p50/p99 of
 * manifest GETs from another client are measured before and during (printed: a benchmark, not
 * an assertion; docs/operations.md, "Client limits").
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { defaultYaml, startChildRegistry, startRegistry, type Registry } from '../helpers/registry.js';
import { digest, random, repoName } from '../helpers/content.js';
import { getManifest, pushImage, startUpload, withQuery } from '../helpers/push.js';
import { percentile, until, within } from './bounded.js';
import { registerStorageMiddleware } from '../../src/storage/middleware/index.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';
import { Front, getManifest as getManifestFrom, pushImage as pushMirrored, startBerth, tempDir } from '../proxy/helpers.js';

const limits = (o: Record<string, string | number>) =>
  ['berth:', '  http:', ...Object.entries(o).map(([k, v]) => `    ${k}: ${v}`)].join('\n');

/** A raw connection that records when the server closed it and what it answered. */
function connect(reg: Registry): Promise<net.Socket & { closedAt?: number; answer: string }> {
  const u = new URL(reg.url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname) as net.Socket & { closedAt?: number; answer: string };
    s.answer = '';
    s.on('data', (c) => { s.answer += c.toString('latin1'); });
    s.on('error', () => undefined);
    s.on('close', () => { s.closedAt = Date.now(); });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const closed = (s: { closedAt?: number }) => s.closedAt !== undefined;

describe('client limits (berth.http set short)', () => {
  let reg: Registry;
  before(async () => {
    reg = await startRegistry({ extraYaml: limits({ headertimeout: '1s', bodytimeout: '1s', keepalivetimeout: '5s' }) });
  });
  after(async () => {
    await reg?.stop();
  });

  it('closes a connection sending headers forever, and one sending nothing, after the header timeout', async () => {
    const endless = await connect(reg);
    const silent = await connect(reg);
    const started = Date.now();
    endless.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => endless.write(`X-Drip-${Date.now()}: x\r\n`), 100);
    try {
      await until(15_000, 'both connections are closed', () => closed(endless) && closed(silent), 50);
    } finally {
      clearInterval(drip);
    }
    assert.ok(endless.closedAt! - started >= 1000, 'not before the header timeout');
    assert.ok(silent.closedAt! - started >= 1000, 'not before the header timeout');
    assert.match(endless.answer, /^$|^HTTP\/1\.1 408/, 'answered 408 or closed');
    assert.equal((await reg.req('GET', '/v2/')).status, 200, 'others are served');
  });

  it('ends an upload body that stalls after the body timeout, the upload resuming from what was kept; a slow steady body is taken whole', async () => {
    const repo = repoName('slowbody');
    const { location } = await startUpload(reg, repo);
    const u = new URL(location);
    const stalled = await connect(reg);
    const sent = 10 * 1024;
    stalled.write(`PATCH ${u.pathname}${u.search} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${64 * 1024}\r\n\r\n`);
    const whole = random(64 * 1024);
    stalled.write(whole.subarray(0, sent));
    await until(15_000, 'the stalled upload is closed', () => closed(stalled), 50);
    // The upload goes on from what was kept (all that arrived, or what was written before the cut).
    const status = await reg.req('GET', location);
    assert.equal(status.status, 204, 'the cut upload is still there');
    const kept = Number(/^0-(\d+)$/.exec(status.header('range') ?? '')![1]) + (status.header('range') === '0-0' ? 0 : 1);
    assert.ok(kept <= sent, `kept ${kept} bytes of the ${sent} sent`);
    const resumed = await reg.req('PUT', withQuery(new URL(status.header('location')!, reg.url).toString(), { digest: digest(whole) }), {
      body: whole.subarray(kept),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${kept}-${whole.length - 1}` },
    });
    assert.equal(resumed.status, 201, resumed.text());
    assert.equal(digest((await reg.req('GET', `/v2/${repo}/blobs/${digest(whole)}`)).body), digest(whole));

    // 4 KiB at 1 KiB/s: longer in all than the body timeout, never idle that long.
    const { location: steadyAt } = await startUpload(reg, repo);
    const data = random(4096);
    let i = 0;
    const answer = new Promise<http.IncomingMessage>((resolve, reject) => {
      const su = new URL(steadyAt);
      const req = http.request({ host: su.hostname, port: Number(su.port), method: 'PATCH', path: su.pathname + su.search, agent: false, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length } }, resolve);
      req.on('error', reject);
      const tick = setInterval(() => {
        req.write(data.subarray(i, i + 256));
        i += 256;
        if (i >= data.length) {
          clearInterval(tick);
          req.end();
        }
      }, 250);
    });
    const res = await within(30_000, answer, 'the steady upload');
    res.resume();
    assert.equal(res.statusCode, 202);
    assert.equal(res.headers.range, `0-${data.length - 1}`);
  });
});

describe('slow answers (berth.http.bodytimeout set short)', () => {
  it('to an upload whose body is in are given however long they take', async () => {
    // Storage middleware (the plugins' extension point) that makes each move take 2.5 s: an
    // upload's commit moves its data into place after the whole body has been read.
    registerStorageMiddleware('test-slow-moves', (driver) => slowMoves(driver, 2500));
    const reg = await startRegistry({ extraYaml: [limits({ bodytimeout: '1s' }), 'middleware:', '  storage:', '    - name: test-slow-moves'].join('\n') });
    try {
      const repo = repoName('slow-commit');
      // Bodies past the first read of the socket: the 4 MiB one is read from the socket (body/).
      for (const size of [64 * 1024, 4 * 1024 * 1024]) {
        const data = random(size);
        const { location } = await startUpload(reg, repo);
        const started = Date.now();
        const res = await reg.req('PUT', withQuery(location, { digest: digest(data) }), { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
        assert.equal(res.status, 201, `${size} bytes: ${res.status} ${res.text()}`);
        assert.ok(Date.now() - started >= 2500, 'the answer waited for the slow move');
        assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${digest(data)}`)).status, 200);
      }
    } finally {
      await reg.stop();
    }
  });

  it('to a request without a body are given however long they take (a mirror with a slow upstream)', async () => {
    const upstreamDir = tempDir('slow-answer-upstream');
    const mirrorDir = tempDir('slow-answer-mirror');
    const upstream = await startBerth(upstreamDir.dir);
    const front = await new Front(upstream.url).start();
    const mirror = await startBerth(mirrorDir.dir, ['proxy:', `  remoteurl: ${front.url}`, limits({ bodytimeout: '1s' })].join('\n'));
    try {
      const image = await pushMirrored(upstream.url, repoName('slow'), 'v1');
      // The mirror's manifest GET waits on an upstream that answers after 2.5 s, with nothing sent meanwhile.
      front.delayMs = 2500;
      const started = Date.now();
      const got = await getManifestFrom(mirror.url, image.repo, image.tag);
      assert.equal(got.status, 200);
      assert.equal(got.digest, image.manifestDigest);
      assert.ok(Date.now() - started >= 2500, 'the answer came through the slow upstream');
    } finally {
      await mirror.close();
      await front.stop();
      await upstream.close();
      mirrorDir.cleanup();
      upstreamDir.cleanup();
    }
  });
});

/** `driver` with every move taking `ms` longer (one method replaced, as withRedirectURL does). */
function slowMoves(driver: StorageDriver, ms: number): StorageDriver {
  const move: StorageDriver['move'] = async (...args) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return driver.move(...args);
  };
  return Object.create(driver, { move: { value: move } }) as StorageDriver;
}

describe('connection limit (berth.http.maxconnections)', () => {
  let reg: Registry;
  before(async () => {
    reg = await startRegistry({ extraYaml: limits({ maxconnections: 20 }) });
  });
  after(async () => {
    await reg?.stop();
  });

  it('closes connections past the limit as they arrive and serves again once below it', async () => {
    const held = [];
    for (let n = 0; n < 20; n++) held.push(await connect(reg));
    const extra = await connect(reg);
    await until(10_000, 'the connection past the limit is closed', () => closed(extra), 20);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(held.every((s) => !closed(s)), 'the connections within the limit stay open');
    for (const s of held) s.destroy();
    await until(10_000, 'a request is served again', async () => {
      try {
        return (await reg.req('GET', '/v2/')).status === 200;
      } catch {
        return false;
      }
    }, 100);
  });
});

describe('hostile clients next to a normal one (default limits)', () => {
  let reg: Registry;
  before(async () => {
    // A child process: the hostile sockets and the measuring client do not share its event loop.
    reg = await startChildRegistry({ yaml: defaultYaml() });
  });
  after(async () => {
    await reg?.stop();
  });

  /** n manifest GETs, `concurrency` at a time; every one must be a 200. Latencies in ms. */
  async function manifestGets(repo: string, n: number, concurrency: number): Promise<number[]> {
    const times: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next++ < n) {
        const t0 = performance.now();
        const res = await within(10_000, getManifest(reg, repo, 'v1'), 'a manifest GET');
        times.push(performance.now() - t0);
        assert.equal(res.status, 200);
      }
    }));
    return times;
  }

  it('keeps serving manifest GETs while 1,000 connections idle, an upload trickles at 1 KiB/s and headers never end', async () => {
    const repo = repoName('hostile');
    await pushImage(reg, repo, 'v1');
    await manifestGets(repo, 50, 4); // warm-up
    const before = await manifestGets(repo, 400, 4);

    const idle = await Promise.all(Array.from({ length: 1000 }, () => connect(reg)));
    const endless = await connect(reg);
    endless.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n');
    const { location } = await startUpload(reg, repo);
    const u = new URL(location);
    const trickle = await connect(reg);
    trickle.write(`PATCH ${u.pathname}${u.search} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${1024 * 1024}\r\n\r\n`);
    const timers = [
      setInterval(() => endless.write(`X-Drip-${Date.now()}: x\r\n`), 100),
      setInterval(() => trickle.write(random(128)), 125), // 1 KiB/s
    ];
    try {
      const during = await manifestGets(repo, 400, 4);
      assert.ok(idle.every((s) => !closed(s)), 'the idle connections were held (the default header timeout is 60 s)');
      assert.ok(!closed(trickle) && !closed(endless), 'the slow clients were not cut (they make progress, or are inside the header timeout)');
      const line = (what: string, t: number[]) => `${what}: ${t.length} manifest GETs, p50 ${percentile(t, 50).toFixed(2)} ms, p99 ${percentile(t, 99).toFixed(2)} ms`;
      console.log(line('alone', before));
      console.log(line('with 1,000 idle connections, a 1 KiB/s upload and endless headers', during));
    } finally {
      for (const t of timers) clearInterval(t);
      for (const s of [...idle, endless, trickle]) s.destroy();
    }
    assert.equal((await reg.req('GET', location)).status, 204, 'the trickled upload is still there, with what it sent');
  });
});
