/**
 * Scenario 6: N clients at once, each on its own keep-alive connection, each pushing M blobs
 * (monolithic POST + PUT), a config and a manifest to its own repository. Every blob is unique
 * (a 32-byte header naming client, blob, server and repetition over shared random bytes); the
 * digests are computed before the clock starts. Afterwards each manifest is fetched and checked.
 *
 * Before its timed rounds each server takes one untimed round of the same size (prepare), as the
 * other scenarios warm up before they are timed. Without it the first rounds measured a server new
 * to this load: in the full runs of 2026-12-05 Berth's first round took 1.07–1.36× its third
 * (Distribution's 0.95–1.10×), and 1.3–1.7× when the scenario ran alone; a warm-up of 512 MiB did
 * not remove it, so it is more than the JIT compiling the push path. The bench client's own CPU
 * also halved by the third round.
 */
import { randomFillSync } from 'node:crypto';
import { Agent } from 'node:http';
import {
  OCI_MANIFEST,
  expectDigest,
  expectStatus,
  imageManifest,
  pushMonolithic,
  putManifest,
  send,
  sha256,
  type Descriptor,
} from '../client.js';
import { uniqueSuffix } from '../data.js';
import { syncDisks, type Sample, type Scenario } from '../scenario.js';
import { processCpuSeconds } from '../servers.js';
import { benchCpuSeconds } from './blobs.js';

interface Plan {
  repo: string;
  blobs: { header: Buffer; body: Buffer; desc: Descriptor }[];
  config: { body: Buffer; desc: Descriptor };
  manifest: Buffer;
}

let shared: Buffer | undefined;

function plan(clients: number, blobs: number, blobBytes: number, tag: string): Plan[] {
  const size = blobs * blobBytes;
  if (!shared || shared.length !== size) shared = randomFillSync(Buffer.allocUnsafe(size));
  const base = shared;
  const plans: Plan[] = [];
  for (let c = 0; c < clients; c++) {
    const repo = `bench/clients/c${String(c).padStart(3, '0')}`;
    const list = [];
    for (let i = 0; i < blobs; i++) {
      const header = uniqueSuffix(`${tag} c${c} b${i}`);
      const body = base.subarray(i * blobBytes + header.length, (i + 1) * blobBytes);
      list.push({
        header,
        body,
        desc: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(header, body), size: blobBytes },
      });
    }
    const configBody = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', bench: `${tag} ${c}` }));
    const config = {
      body: configBody,
      desc: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBody), size: configBody.length },
    };
    plans.push({ repo, blobs: list, config, manifest: imageManifest(config.desc, list.map((b) => b.desc)) });
  }
  return plans;
}

/** Every client pushes its blobs, config and manifest on its own keep-alive connection, all clients at once. */
async function pushAll(url: string, plans: Plan[], fail: (err: unknown) => void): Promise<void> {
  await Promise.all(
    plans.map(async (p) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (const b of p.blobs) {
          await pushMonolithic(url, p.repo, b.desc.digest, { kind: 'buffers', parts: [b.header, b.body] }, agent).catch(fail);
        }
        await pushMonolithic(url, p.repo, p.config.desc.digest, { kind: 'buffers', parts: [p.config.body] }, agent).catch(fail);
        await putManifest(url, p.repo, 'latest', p.manifest, agent).catch(fail);
      } finally {
        agent.destroy();
      }
    }),
  );
}

export const pushConcurrentScenario: Scenario = {
  name: 'push-concurrent',
  title: 'concurrent clients pushing',
  metrics: [
    { key: 'seconds', unit: 's', better: 'lower', digits: 2, target: { ratio: 0.6 } },
    { key: 'errors', unit: '', better: 'lower', digits: 0, target: { max: 0 } },
    // Both sides share 2 cores here: the client's CPU shows how much of the wall time it took.
    { key: 'cpu s', unit: 's CPU, server', better: 'lower', digits: 2 },
    { key: 'client cpu s', unit: 's CPU, client', better: 'lower', digits: 2 },
  ],
  async prepare(server, ctx) {
    const s = ctx.sizes;
    let failed: unknown;
    await pushAll(server.url, plan(s.pushClients, s.blobsPerClient, s.blobBytes, `${server.name} warm-up ${Date.now()}`), (err) => (failed ??= err));
    if (failed !== undefined) throw failed;
  },
  async run(server, ctx, rep): Promise<Sample> {
    const s = ctx.sizes;
    const tag = `${server.name} r${rep} ${Date.now()}`;
    const plans = plan(s.pushClients, s.blobsPerClient, s.blobBytes, tag);
    const notes: string[] = [];
    let errors = 0;
    const fail = (err: unknown): void => {
      errors++;
      if (notes.length < 5) notes.push(err instanceof Error ? err.message.split('\n')[0]! : String(err));
    };
    syncDisks();
    const server0 = processCpuSeconds(server.pid);
    const client0 = benchCpuSeconds();
    const t0 = performance.now();
    await pushAll(server.url, plans, fail);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = { 'cpu s': processCpuSeconds(server.pid) - server0, 'client cpu s': benchCpuSeconds() - client0 };
    for (const p of plans) {
      try {
        const r = await send({ method: 'GET', url: `${server.url}/v2/${p.repo}/manifests/latest`, headers: { Accept: OCI_MANIFEST } });
        expectStatus(r, 200, `GET ${p.repo} manifest after push`);
        expectDigest(r, sha256(p.manifest), `GET ${p.repo} manifest after push`);
      } catch (err) {
        fail(err);
      }
    }
    return { values: { seconds, errors, ...cpu }, errors, notes };
  },
};
