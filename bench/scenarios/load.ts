/**
 * Scenarios 4–5: many keep-alive connections for a fixed time. Manifest GET by tag with wrk,
 * blob HEAD with `ab -k -i` (wrk cannot do HEAD). Before each run one request is checked by hand
 * (status, Docker-Content-Digest, body digest); during the run every non-2xx reply and socket
 * error counts as an error. The limit is nginx serving the same manifest bytes as a static file.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { abHead, wrk, type LoadOptions, type LoadResult } from '../loadgen.js';
import { OCI_MANIFEST, expectDigest, expectStatus, send, sha256 } from '../client.js';
import { seedImage, type Context, type Sample, type Scenario } from '../scenario.js';
import { processCpuSeconds, type RunningProcess } from '../servers.js';

const REPO = 'bench/manifest';
const WRK = '/usr/bin/wrk';
const AB = '/usr/bin/ab';

function loadOptions(ctx: Context, url: string, headers?: Record<string, string>): LoadOptions {
  return {
    url,
    seconds: ctx.sizes.loadSeconds,
    connections: ctx.sizes.loadConnections,
    threads: ctx.sizes.loadThreads,
    headers,
    pin: ctx.pin,
  };
}

/**
 * Untimed load before the timed runs, the same for every server: a just-started Node process
 * answers its first seconds of load with its code not yet optimised and its young generation
 * still growing (p99 in the hundreds of ms for about three seconds, then ~10 ms), and the first
 * set of connections after the one it was warmed on deoptimises the code that served that one
 * (V8 meets new object maps as sockets close and open: 36 deoptimisations and 127 recompilations
 * over two workers), which put 12–23 ms on the p99 of the first timed run. A registry in service
 * is past both, so the warm-up is four runs of a second, each opening and closing its connections
 * (docs/performance.md, "The first timed round after the warm-up"). Distribution (Go) gets the
 * same runs.
 */
async function warmUp(ctx: Context, o: LoadOptions, load: (o: LoadOptions) => Promise<LoadResult>): Promise<void> {
  const runs = Math.min(WARM_UP_RUNS, ctx.sizes.loadSeconds);
  for (let i = 0; i < runs; i++) await load({ ...o, seconds: 1 });
}
const WARM_UP_RUNS = 4;

/**
 * Runs one timed load against a server and adds the server's CPU time per request, which holds
 * under machine load where req/s does not.
 */
async function measured(server: RunningProcess, load: () => Promise<LoadResult>): Promise<Sample> {
  const before = processCpuSeconds(server.pid);
  const r = await load();
  const sample = toSample(r);
  if (r.requests > 0) sample.values['cpu µs/req'] = ((processCpuSeconds(server.pid) - before) * 1e6) / r.requests;
  return sample;
}

function toSample(r: LoadResult): Sample {
  const notes = [...r.notes, ...(r.errors ? [`${r.errors} errors in ${r.requests} requests`] : [])];
  return { values: { 'req/s': r.rps, 'p99 ms': r.p99Ms }, errors: r.errors, notes };
}

const CPU_PER_REQUEST = { key: 'cpu µs/req', unit: 'µs CPU/req', better: 'lower', digits: 0 } as const;

/** Writes the manifest of `server`'s seeded image into nginx's root as manifest.json (same bytes everywhere). */
function ensureStaticManifest(nginx: RunningProcess, manifest: Buffer): void {
  const path = join(nginx.root, 'manifest.json');
  if (!existsSync(path)) writeFileSync(path, manifest);
}

let staticManifest: Buffer | undefined;

export const manifestGetScenario: Scenario = {
  name: 'manifest-get',
  title: 'manifest GET by tag',
  metrics: [
    { key: 'req/s', unit: 'req/s', better: 'higher', digits: 0, target: { ratio: 6 }, autoTarget: { ratio: 10 } },
    { key: 'p99 ms', unit: 'ms', better: 'lower', digits: 1, target: { max: 20 }, autoTarget: { max: 10 } },
    CPU_PER_REQUEST,
  ],
  tools: [WRK],
  async prepare(server, ctx) {
    const image = await seedImage(server, REPO);
    staticManifest = image.manifest;
    const r = await send({
      method: 'GET',
      url: `${server.url}/v2/${REPO}/manifests/latest`,
      headers: { Accept: OCI_MANIFEST },
    });
    expectStatus(r, 200, 'GET manifest');
    expectDigest(r, image.manifestDigest, 'GET manifest');
    if (sha256(r.body) !== image.manifestDigest) throw new Error('GET manifest: body does not match its digest');
    await warmUp(ctx, loadOptions(ctx, `${server.url}/v2/${REPO}/manifests/latest`, { Accept: OCI_MANIFEST }), wrk);
  },
  async run(server, ctx): Promise<Sample> {
    return measured(server, () => wrk(loadOptions(ctx, `${server.url}/v2/${REPO}/manifests/latest`, { Accept: OCI_MANIFEST })));
  },
  async limit(nginx, ctx): Promise<Sample> {
    if (!staticManifest) throw new Error('no manifest seeded');
    ensureStaticManifest(nginx, staticManifest);
    return toSample(await wrk(loadOptions(ctx, `${nginx.url}/manifest.json`)));
  },
};

export const blobHeadScenario: Scenario = {
  name: 'blob-head',
  title: 'blob HEAD',
  metrics: [
    { key: 'req/s', unit: 'req/s', better: 'higher', digits: 0, target: { ratio: 6 }, autoTarget: { ratio: 10 } },
    { key: 'p99 ms', unit: 'ms', better: 'lower', digits: 1, target: { max: 20 }, autoTarget: { max: 10 } },
    CPU_PER_REQUEST,
  ],
  tools: [AB],
  async prepare(server, ctx) {
    const image = await seedImage(server, REPO);
    staticManifest = image.manifest;
    const r = await send({ method: 'HEAD', url: `${server.url}/v2/${REPO}/blobs/${image.layer.digest}` });
    expectStatus(r, 200, 'HEAD blob');
    expectDigest(r, image.layer.digest, 'HEAD blob');
    if (Number(r.headers['content-length']) !== image.layer.size) throw new Error('HEAD blob: wrong Content-Length');
    await warmUp(ctx, loadOptions(ctx, `${server.url}/v2/${REPO}/blobs/${image.layer.digest}`), abHead);
  },
  async run(server, ctx): Promise<Sample> {
    const image = await seedImage(server, REPO);
    return measured(server, () => abHead(loadOptions(ctx, `${server.url}/v2/${REPO}/blobs/${image.layer.digest}`)));
  },
  async limit(nginx, ctx): Promise<Sample> {
    if (!staticManifest) throw new Error('no manifest seeded');
    ensureStaticManifest(nginx, staticManifest);
    return toSample(await abHead(loadOptions(ctx, `${nginx.url}/manifest.json`)));
  },
};
