/**
 * Server CPU per push on S3: one Berth instance (a child process, Redis as its blob descriptor
 * cache, as the soak runs it) on Ceph RGW, pushed `PUSHES` small images by `CONCURRENCY` clients,
 * each image three blobs of 1–32 KiB sent the three ways the soak sends them (POST ?digest=,
 * POST + PUT, POST + PATCH + PUT) and a manifest; then every image pulled once (blobs redirected
 * to the store, as by default). Prints Berth's
 * CPU time (/proc utime + stime) per push and per pull, and, when RGW_DIR names the directory of
 * an RGW started with scripts/s3/start-rgw.sh (whose S3_* settings are exported), the S3 requests
 * RGW counted per push and per pull (its `rgw.req` perf counter); always the Redis commands per push
 * and per pull (INFO's total_commands_processed). CPU per unit of work holds
 * on a loaded machine; the wall times printed do not.
 *
 *   node --import tsx bench/s3-push-cpu.ts            # PUSHES=400 CONCURRENCY=16 by default
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startChildRegistry, type Registry } from '../test/helpers/registry.js';
import { s3RegistryYaml, startS3 } from '../test/helpers/s3.js';
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis.js';

const PUSHES = Number(process.env.PUSHES ?? 400);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** [utime, stime] of a process, in ms. */
function cpuMs(pid: number): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(f[11]) * 10, Number(f[12]) * 10]; // fields 14 and 15, in clock ticks of 10 ms
}

function rgwRequests(): number | undefined {
  const dir = process.env.RGW_DIR;
  if (!dir) return undefined;
  const out = execFileSync('ceph', ['--admin-daemon', `${dir}/run/ceph-client.rgw.a.asok`, 'perf', 'dump'], { encoding: 'utf8' });
  return (JSON.parse(out) as { rgw: { req: number } }).rgw.req;
}

interface Image { repo: string; manifest: Buffer; blobs: Buffer[] }

async function call(reg: Registry, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(path.startsWith('http') ? path : reg.url + path, { method, headers, ...(body ? { body: new Uint8Array(body) } : {}), redirect: 'manual' });
  return res;
}

async function ok(res: Response, want: number, what: string): Promise<Response> {
  if (res.status !== want) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return res;
}

async function push(reg: Registry, n: number): Promise<Image> {
  const repo = `bench/c${n % CONCURRENCY}`;
  const blobs = [0, 1, 2].map(() => randomBytes(1024 + Math.floor(Math.random() * 31 * 1024)));
  const [whole, single, chunked] = blobs as [Buffer, Buffer, Buffer];
  await ok(await call(reg, 'POST', `/v2/${repo}/blobs/uploads/?digest=${sha(whole)}`, whole, { 'Content-Type': 'application/octet-stream' }), 201, 'POST ?digest=');
  let loc = (await ok(await call(reg, 'POST', `/v2/${repo}/blobs/uploads/`), 202, 'POST')).headers.get('location')!;
  await ok(await call(reg, 'PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${sha(single)}`, single, { 'Content-Type': 'application/octet-stream' }), 201, 'PUT');
  loc = (await ok(await call(reg, 'POST', `/v2/${repo}/blobs/uploads/`), 202, 'POST')).headers.get('location')!;
  const cut = chunked.length >> 1;
  const patch = await ok(await call(reg, 'PATCH', loc, chunked.subarray(0, cut), { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${cut - 1}` }), 202, 'PATCH');
  loc = patch.headers.get('location')!;
  await ok(await call(reg, 'PUT', `${loc}${loc.includes('?') ? '&' : '?'}digest=${sha(chunked)}`, chunked.subarray(cut), { 'Content-Type': 'application/octet-stream', 'Content-Range': `${cut}-${chunked.length - 1}` }), 201, 'PUT last chunk');
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(whole), size: whole.length },
    layers: [single, chunked].map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(b), size: b.length })),
  }));
  await ok(await call(reg, 'PUT', `/v2/${repo}/manifests/t${n}`, manifest, { 'Content-Type': OCI_MANIFEST }), 201, 'PUT manifest');
  return { repo, manifest: Buffer.from(`t${n}`), blobs };
}

async function pull(reg: Registry, image: Image): Promise<void> {
  await (await ok(await call(reg, 'GET', `/v2/${image.repo}/manifests/${image.manifest.toString()}`, undefined, { Accept: OCI_MANIFEST }), 200, 'GET manifest')).arrayBuffer();
  for (const b of image.blobs) {
    let res = await call(reg, 'GET', `/v2/${image.repo}/blobs/${sha(b)}`);
    if (res.status === 307) res = await call(reg, 'GET', res.headers.get('location')!); // redirected to the store
    const got = Buffer.from(await (await ok(res, 200, 'GET blob')).arrayBuffer());
    if (!got.equals(b)) throw new Error('a pulled blob differs');
  }
}

async function pool<T>(count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  }));
  return out;
}

/** Commands Redis has processed so far (the bench's own INFO calls included, two per measure). */
async function redisCommands(): Promise<number> {
  const info = await redisClient!.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN);
}
let redisClient: Redis | undefined;

async function measure<T>(what: string, pid: number, count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const cpu0 = cpuMs(pid);
  const req0 = rgwRequests();
  const redis0 = await redisCommands();
  const t0 = performance.now();
  const out = await pool(count, task);
  const wall = performance.now() - t0;
  const [user, system] = cpuMs(pid).map((v, i) => v - cpu0[i]!) as [number, number];
  const cpu = user + system;
  const req1 = rgwRequests();
  const redis1 = await redisCommands();
  const perReq = req0 === undefined ? '' : `, ${((req1! - req0) / count).toFixed(1)} S3 requests per ${what}`;
  console.log(`${what}: ${count} in ${(wall / 1000).toFixed(1)} s, Berth CPU ${(cpu / count).toFixed(2)} ms per ${what} (${(user / count).toFixed(2)} user, ${(system / count).toFixed(2)} system)${perReq}, ${((redis1 - redis0 - 1) / count).toFixed(1)} Redis commands per ${what} (load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
  return out;
}

const [s3, redis] = await Promise.all([startS3(), startRedis()]);
let reg: Registry | undefined;
try {
  const bucket = await s3.bucket();
  const yaml = s3RegistryYaml(s3.params(bucket), {
    storage: ['  delete:', '    enabled: true', '  cache:', '    blobdescriptor: redis'],
    top: ['redis:', `  addr: ${redis.addr}`],
  });
  redisClient = new Redis({ host: '127.0.0.1', port: redis.port });
  reg = await startChildRegistry({ yaml, ...(process.env.BERTH_ENTRY ? { entry: process.env.BERTH_ENTRY } : {}) });
  const pid = reg.pid!;
  await pool(Math.min(100, PUSHES), (i) => push(reg!, 1_000_000 + i)); // warm-up: V8 optimises the hot paths
  const images = await measure('push', pid, PUSHES, (i) => push(reg!, i));
  await measure('pull', pid, images.length, (i) => pull(reg!, images[i]!));
} finally {
  redisClient?.disconnect();
  await reg?.stop();
  await redis.stop();
  await s3.stop();
}
