/**
 * Scenarios 1–3: monolithic push, chunked push and pull of large blobs. Pushes send a region of
 * the generated data from memory plus a 32-byte suffix unique to the server and repetition, so
 * every push stores a new blob; the digest comes from the hash state kept while the data was
 * generated. After each push a HEAD checks size and digest. Each transfer reports MB/s (10^6
 * bytes), the server's CPU seconds per GiB moved and the client's (so it shows it is not the limit).
 */
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { Agent, type IncomingHttpHeaders } from 'node:http';
import {
  expectDigest,
  expectStatus,
  location,
  pushMonolithic,
  send,
  startUpload,
  withQuery,
} from '../client.js';
import { uniqueSuffix, type DataFile } from '../data.js';
import { syncDisks, type Context, type Metric, type Sample, type Scenario } from '../scenario.js';
import { leanGet } from '../pull-client.js';
import { processCpuSeconds, processSystemCpuSeconds, reapedChildrenCpuSeconds, type RunningProcess } from '../servers.js';

const CURL = '/usr/bin/curl';

export function dataOf(ctx: Context): DataFile {
  if (!ctx.data) throw new Error('no data file generated');
  return ctx.data;
}

export async function headBlob(server: RunningProcess, repo: string, digest: string, size: number): Promise<void> {
  const r = await send({ method: 'HEAD', url: `${server.url}/v2/${repo}/blobs/${digest}` });
  expectStatus(r, 200, `HEAD blob after push`);
  expectDigest(r, digest, 'HEAD blob after push');
  if (Number(r.headers['content-length']) !== size) {
    throw new Error(`HEAD blob after push: Content-Length ${String(r.headers['content-length'])}, expected ${size}`);
  }
}

const GIB = 2 ** 30;

/** The three figures of a transfer; the targets apply to pushes by the bench's own client. */
export function transferMetrics(targets: { rate?: number; cpu?: number } = {}): Metric[] {
  return [
    { key: 'MB/s', unit: 'MB/s', better: 'higher', digits: 0, ...(targets.rate ? { target: { ratio: targets.rate } } : {}) },
    { key: 'cpu s/GiB', unit: 's CPU/GiB, server', better: 'lower', digits: 2, ...(targets.cpu ? { target: { ratio: targets.cpu } } : {}) },
    // The kernel's share of the server's CPU: docs/performance.md ("System time") shows why it varies here.
    { key: 'sys s/GiB', unit: 's system CPU/GiB, server', better: 'lower', digits: 2 },
    { key: 'client cpu s/GiB', unit: 's CPU/GiB, client', better: 'lower', digits: 2 },
    // With --storage s3 on an RGW started by the bench: what the store spent on the same bytes.
    { key: 'store cpu s/GiB', unit: 's CPU/GiB, S3 store (RGW + OSD)', better: 'lower', digits: 2, onlyWhenMeasured: true },
  ];
}

/** This process's CPU time (seconds): the bench's own client. */
export function benchCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The S3 store's CPU seconds so far (all its daemons), when the bench started it; else undefined. */
export function storeCpuOf(ctx: Context): () => number | undefined {
  return () => {
    const byRole = ctx.s3?.storeCpu();
    return byRole ? Object.values(byRole).reduce((a, b) => a + b, 0) : undefined;
  };
}

/**
 * Times `transfer` of `bytes`, with the server's CPU (its whole process tree) and the client's
 * (`clientCpu`, by default this process) over the same interval, and the S3 store's when `storeCpu`
 * tells it. A note says when the client was busy for most of the wall time, i.e. may have set the pace.
 */
export async function timedTransfer(
  server: RunningProcess,
  transfer: () => Promise<number>,
  clientCpu: () => number = benchCpuSeconds,
  storeCpu: () => number | undefined = () => undefined,
): Promise<Sample> {
  const store0 = storeCpu();
  const server0 = processCpuSeconds(server.pid);
  const system0 = processSystemCpuSeconds(server.pid);
  const client0 = clientCpu();
  const t0 = performance.now();
  const bytes = await transfer();
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = processCpuSeconds(server.pid) - server0;
  const serverSystem = processSystemCpuSeconds(server.pid) - system0;
  const client = clientCpu() - client0;
  const store1 = storeCpu();
  const notes = client > 0.8 * seconds ? [`the client was busy ${((client / seconds) * 100).toFixed(0)}% of the time: it may have set the pace`] : [];
  return {
    values: {
      'MB/s': bytes / 1e6 / seconds,
      'cpu s/GiB': serverCpu / (bytes / GIB),
      'sys s/GiB': serverSystem / (bytes / GIB),
      'client cpu s/GiB': client / (bytes / GIB),
      ...(store0 !== undefined && store1 !== undefined ? { 'store cpu s/GiB': (store1 - store0) / (bytes / GIB) } : {}),
    },
    errors: 0,
    notes,
  };
}

/**
 * Untimed pushes before a push scenario's timed rounds, the same for every server: a Node
 * server's first pushes of a size run code not yet optimised (Berth's CPU per GiB fell from 1.88 and
 * 2.12 s in the first round to 1.32–1.60 in the fifth and sixth, `--scenario push-monolithic --reps 6`), and with
 * `workers: auto` each worker warms up on the connections dealt to it. Two per core, so each worker
 * of `auto` has had its share; the other scenarios warm up likewise (docs/performance.md, "What is
 * measured"). A warm-up push is the timed one's kind and chunk size, at most WARM_UP_BYTES long.
 */
const warmUpPushes = (): number => 2 * availableParallelism();
const WARM_UP_BYTES = 256 * 2 ** 20;

/** The length of a warm-up push before timed pushes of `size` (the data file keeps its hash state). */
export const warmUpBytes = (size: number): number => Math.min(size, WARM_UP_BYTES);

/**
 * One push of `size` bytes of the generated data plus a unique suffix to `repo`, timed, on its own
 * keep-alive connection, then checked by a HEAD; `requests` makes the requests, given that connection,
 * the blob's digest and the suffix.
 */
async function timedPush(
  server: RunningProcess,
  ctx: Context,
  repo: string,
  size: number,
  label: string,
  requests: (agent: Agent, digest: string, suffix: Buffer) => Promise<void>,
): Promise<Sample> {
  const suffix = uniqueSuffix(label);
  const digest = dataOf(ctx).digest(size, suffix);
  syncDisks();
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const sample = await timedTransfer(server, async () => {
    await requests(agent, digest, suffix);
    return size + suffix.length;
  }, benchCpuSeconds, storeCpuOf(ctx));
  agent.destroy();
  await headBlob(server, repo, digest, size + suffix.length);
  return sample;
}

/** One monolithic push: POST, then PUT ?digest= with the body. */
function pushWhole(server: RunningProcess, ctx: Context, size: number, label: string): Promise<Sample> {
  const repo = 'bench/push-monolithic';
  const bytes = dataOf(ctx).bytes.subarray(0, size);
  return timedPush(server, ctx, repo, size, label, async (agent, digest, suffix) => {
    await pushMonolithic(server.url, repo, digest, { kind: 'buffers', parts: [bytes, suffix] }, agent);
  });
}

/** One chunked push: POST, PATCHes of the chunk size with Content-Range, PUT ?digest= without a body. */
function pushInChunks(server: RunningProcess, ctx: Context, size: number, label: string): Promise<Sample> {
  const repo = 'bench/push-chunked';
  const { bytes } = dataOf(ctx);
  const chunk = ctx.sizes.chunkBytes;
  return timedPush(server, ctx, repo, size, label, async (agent, digest, suffix) => {
    let url = await startUpload(server.url, repo, agent);
    for (let start = 0; start < size; start += chunk) {
      const end = Math.min(start + chunk, size);
      const last = end === size;
      const parts = [bytes.subarray(start, end), ...(last ? [suffix] : [])];
      const length = end - start + (last ? suffix.length : 0);
      const r = await send({
        method: 'PATCH',
        url,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${start + length - 1}` },
        body: { kind: 'buffers', parts },
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
  });
}

type Push = (server: RunningProcess, ctx: Context, size: number, label: string) => Promise<Sample>;

/** `tag` starts each push's unique suffix (32 bytes, cut there), so it is kept short. */
function pushScenario(name: string, tag: string, title: string, push: Push, sizeOf: (ctx: Context) => number): Scenario {
  return {
    name,
    title,
    metrics: transferMetrics({ rate: 2, cpu: 0.5 }),
    needsData: true,
    async prepare(server, ctx) {
      const size = warmUpBytes(sizeOf(ctx));
      for (let i = 0; i < warmUpPushes(); i++) await push(server, ctx, size, `${tag} ${server.name} w${i} ${Date.now()}`);
    },
    run: (server, ctx, rep) => push(server, ctx, sizeOf(ctx), `${tag} ${server.name} ${rep} ${Date.now()}`),
  };
}

export const pushMonolithicScenario = pushScenario('push-monolithic', 'm', 'monolithic blob push', pushWhole, (ctx) => ctx.sizes.monolithicBytes);
export const pushChunkedScenario = pushScenario('push-chunked', 'c', 'chunked blob push', pushInChunks, (ctx) => ctx.sizes.chunkedBytes);

interface PullCheck {
  url: string;
  size: number;
  digest: string | undefined;
  headers?: Record<string, string>;
  expectStatus: number;
}

/** How a pull is made: `hash` (untimed content check), `lean` (bench/pull-client.ts) or `curl`. */
type PullClient = 'hash' | 'lean' | 'curl';

/** One GET of the whole blob, checked; returns the bytes received. */
async function pullOnce(check: PullCheck, client: PullClient): Promise<number> {
  let status: number;
  let bytes: number;
  let headers: IncomingHttpHeaders;
  let sha: string | undefined;
  if (client === 'hash') {
    const r = await send({ method: 'GET', url: check.url, headers: check.headers, keepBody: false, hashBody: true });
    [status, bytes, headers, sha] = [r.status, r.bytes, r.headers, r.sha256];
  } else if (client === 'lean') {
    ({ status, bytes, headers } = await leanGet(check.url, check.headers));
  } else {
    const args = ['-sS', '--http1.1', '-o', '/dev/null', '-D', '-', '-w', '%{http_code} %{size_download}\n'];
    for (const [k, v] of Object.entries(check.headers ?? {})) args.push('-H', `${k}: ${v}`);
    const out = await new Promise<string>((resolve, reject) =>
      execFile(CURL, [...args, check.url], { maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    const lines = out.trim().split(/\r?\n/);
    const [code, size] = lines.pop()!.split(' ').map(Number);
    [status, bytes] = [code!, size!];
    headers = {};
    for (const line of lines) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
  }
  const reply = { status, headers, body: Buffer.alloc(0) };
  expectStatus(reply, check.expectStatus, 'GET blob');
  if (bytes !== check.size) throw new Error(`GET blob: ${bytes} bytes, expected ${check.size}`);
  if (check.digest) {
    expectDigest(reply, check.digest, 'GET blob');
    if (client === 'hash' && sha !== check.digest) throw new Error(`GET blob: body hashes to ${String(sha)}, expected ${check.digest}`);
  }
  return bytes;
}

const PULL_REPO = 'bench/pull';

function registryPull(server: RunningProcess, ctx: Context): PullCheck {
  const data = dataOf(ctx);
  const digest = data.digest(ctx.sizes.pullBytes);
  return { url: `${server.url}/v2/${PULL_REPO}/blobs/${digest}`, size: ctx.sizes.pullBytes, digest, expectStatus: 200 };
}

/**
 * Scenario 3: pull of the blob by a client that is not the limit (`lean`); `pull-curl` is the same
 * with curl, which sets the pace of every server here (its CPU shows it).
 */
function pullScenarioWith(client: 'lean' | 'curl'): Scenario {
  const curl = client === 'curl';
  return {
    name: curl ? 'pull-curl' : 'pull',
    title: curl ? 'blob pull (curl)' : 'blob pull',
    metrics: transferMetrics(curl ? {} : { rate: 1 }),
    tools: curl ? [CURL] : [],
    needsData: true,
    async prepare(server, ctx) {
      const data = dataOf(ctx);
      const size = ctx.sizes.pullBytes;
      const check = registryPull(server, ctx);
      const present = await send({ method: 'HEAD', url: check.url });
      if (present.status !== 200) await pushMonolithic(server.url, PULL_REPO, data.digest(size), { kind: 'buffers', parts: [data.bytes.subarray(0, size)] });
      // Untimed warm-up pull that hashes the whole body: the content check. Timed pulls check
      // status, length and Docker-Content-Digest, so client-side hashing (≈1.4 GB/s on one core
      // here) does not cap the figure.
      await pullOnce(check, 'hash');
    },
    async run(server, ctx): Promise<Sample> {
      return timedTransfer(server, () => pullOnce(registryPull(server, ctx), client), curl ? reapedChildrenCpuSeconds : benchCpuSeconds, storeCpuOf(ctx));
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
      return timedTransfer(nginx, () => pullOnce(check, client), curl ? reapedChildrenCpuSeconds : benchCpuSeconds);
    },
  };
}

export const pullScenario = pullScenarioWith('lean');
export const pullCurlScenario = pullScenarioWith('curl');
