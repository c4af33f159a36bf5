/**
 * Scenarios 1–3: monolithic push, chunked push and pull of large blobs, in MB/s (10^6 bytes).
 * Pushes stream a region of the generated file plus a 32-byte suffix unique to the server and
 * repetition, so every push stores a new blob; the digest comes from the hash state kept while
 * the file was generated. After each push a HEAD checks size and digest.
 */
import { Agent } from 'node:http';
import {
  expectDigest,
  expectStatus,
  location,
  pushMonolithic,
  send,
  startUpload,
  withQuery,
  type BodySource,
} from '../client.js';
import { uniqueSuffix, type DataFile } from '../data.js';
import { syncDisks, type Context, type Sample, type Scenario } from '../scenario.js';
import type { RunningProcess } from '../servers.js';

function dataOf(ctx: Context): DataFile {
  if (!ctx.data) throw new Error('no data file generated');
  return ctx.data;
}

async function headBlob(server: RunningProcess, repo: string, digest: string, size: number): Promise<void> {
  const r = await send({ method: 'HEAD', url: `${server.url}/v2/${repo}/blobs/${digest}` });
  expectStatus(r, 200, `HEAD blob after push`);
  expectDigest(r, digest, 'HEAD blob after push');
  if (Number(r.headers['content-length']) !== size) {
    throw new Error(`HEAD blob after push: Content-Length ${String(r.headers['content-length'])}, expected ${size}`);
  }
}

const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);

export const pushMonolithicScenario: Scenario = {
  name: 'push-monolithic',
  title: 'monolithic blob push',
  metrics: [{ key: 'MB/s', unit: 'MB/s', better: 'higher', digits: 0, target: { ratio: 2 } }],
  needsData: true,
  async run(server, ctx, rep): Promise<Sample> {
    const data = dataOf(ctx);
    const size = ctx.sizes.monolithicBytes;
    const suffix = uniqueSuffix(`mono ${server.name} ${rep} ${Date.now()}`);
    const digest = data.digest(size, suffix);
    const body: BodySource = { kind: 'file', path: data.path, start: 0, end: size, suffix };
    syncDisks();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const t0 = performance.now();
    await pushMonolithic(server.url, 'bench/push-monolithic', digest, body, agent);
    const ms = performance.now() - t0;
    agent.destroy();
    await headBlob(server, 'bench/push-monolithic', digest, size + suffix.length);
    return { values: { 'MB/s': mbps(size + suffix.length, ms) }, errors: 0, notes: [] };
  },
};

export const pushChunkedScenario: Scenario = {
  name: 'push-chunked',
  title: 'chunked blob push',
  metrics: [{ key: 'MB/s', unit: 'MB/s', better: 'higher', digits: 0, target: { ratio: 2 } }],
  needsData: true,
  async run(server, ctx, rep): Promise<Sample> {
    const data = dataOf(ctx);
    const size = ctx.sizes.chunkedBytes;
    const chunk = ctx.sizes.chunkBytes;
    const suffix = uniqueSuffix(`chunked ${server.name} ${rep} ${Date.now()}`);
    const digest = data.digest(size, suffix);
    const repo = 'bench/push-chunked';
    syncDisks();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const t0 = performance.now();
    let url = await startUpload(server.url, repo, agent);
    for (let start = 0; start < size; start += chunk) {
      const end = Math.min(start + chunk, size);
      const last = end === size;
      const length = end - start + (last ? suffix.length : 0);
      const r = await send({
        method: 'PATCH',
        url,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${start + length - 1}` },
        body: { kind: 'file', path: data.path, start, end, suffix: last ? suffix : undefined },
        agent,
      });
      expectStatus(r, 202, `PATCH chunk at ${start}`);
      const range = r.headers.range;
      if (range !== `0-${start + length - 1}`) throw new Error(`PATCH chunk at ${start}: Range ${String(range)}`);
      url = location(server.url, r);
    }
    const r = await send({ method: 'PUT', url: withQuery(url, { digest }), agent });
    expectStatus(r, 201, 'PUT closing chunked upload');
    expectDigest(r, digest, 'PUT closing chunked upload');
    const ms = performance.now() - t0;
    agent.destroy();
    await headBlob(server, repo, digest, size + suffix.length);
    return { values: { 'MB/s': mbps(size + suffix.length, ms) }, errors: 0, notes: [] };
  },
};

interface PullCheck {
  url: string;
  size: number;
  digest: string | undefined;
  headers?: Record<string, string>;
  expectStatus: number;
}

async function timedPull(check: PullCheck, hash: boolean): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const t0 = performance.now();
  const r = await send({ method: 'GET', url: check.url, headers: check.headers, agent, keepBody: false, hashBody: hash });
  const ms = performance.now() - t0;
  agent.destroy();
  expectStatus(r, check.expectStatus, 'GET blob');
  if (r.bytes !== check.size) throw new Error(`GET blob: ${r.bytes} bytes, expected ${check.size}`);
  if (check.digest) {
    expectDigest(r, check.digest, 'GET blob');
    if (hash && r.sha256 !== check.digest) throw new Error(`GET blob: body hashes to ${String(r.sha256)}, expected ${check.digest}`);
  }
  return mbps(r.bytes, ms);
}

const PULL_REPO = 'bench/pull';

function registryPull(server: RunningProcess, ctx: Context): PullCheck {
  const data = dataOf(ctx);
  const digest = data.digest(ctx.sizes.pullBytes);
  return { url: `${server.url}/v2/${PULL_REPO}/blobs/${digest}`, size: ctx.sizes.pullBytes, digest, expectStatus: 200 };
}

export const pullScenario: Scenario = {
  name: 'pull',
  title: 'blob pull',
  metrics: [{ key: 'MB/s', unit: 'MB/s', better: 'higher', digits: 0, target: { ratio: 0.9 } }],
  needsData: true,
  async prepare(server, ctx) {
    const data = dataOf(ctx);
    const size = ctx.sizes.pullBytes;
    await pushMonolithic(server.url, PULL_REPO, data.digest(size), { kind: 'file', path: data.path, start: 0, end: size });
    // Untimed warm-up pull that hashes the whole body: the content check. Timed pulls then
    // check status, length and Docker-Content-Digest, so client-side hashing (≈1.4 GB/s on one
    // core here) does not cap the figure.
    await timedPull(registryPull(server, ctx), true);
  },
  async run(server, ctx): Promise<Sample> {
    return { values: { 'MB/s': await timedPull(registryPull(server, ctx), false) }, errors: 0, notes: [] };
  },
  async limit(nginx, ctx): Promise<Sample> {
    const data = dataOf(ctx);
    const size = ctx.sizes.pullBytes;
    const partial = size < data.size;
    const check: PullCheck = {
      url: `${nginx.url}/blob.bin`,
      size,
      digest: undefined,
      headers: partial ? { Range: `bytes=0-${size - 1}` } : undefined,
      expectStatus: partial ? 206 : 200,
    };
    return { values: { 'MB/s': await timedPull(check, false) }, errors: 0, notes: [] };
  },
};
