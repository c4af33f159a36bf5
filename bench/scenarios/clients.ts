/**
 * Pushes by real clients, timed against each server in the same rounds as the others:
 * - `skopeo copy` of a one-layer image from an OCI layout on disk (skopeo sends the layer as one
 *   PATCH of unknown length, in chunked transfer encoding, then PUT ?digest=);
 * - `docker push` of a one-layer image loaded into a private Docker engine (dockerd gzips the
 *   layer on the way, so its own CPU sets the pace: the server's CPU per GiB is the figure).
 * Every round pushes a new layer (the generated data plus a suffix unique to server and round), so
 * neither client finds it on the server or in its caches. The clients run with the workspaces of
 * the client tests (test/clients/harness.ts): private HOME, policy, blob-info cache and engine.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DockerEngine } from '../../test/clients/engines.js';
import type { Workspace } from '../../test/clients/harness.js';
import { expectDigest, expectStatus, send } from '../client.js';
import { uniqueSuffix } from '../data.js';
import { syncDisks, type Context, type Sample, type Scenario } from '../scenario.js';
import { processCpuSeconds, reapedChildrenCpuSeconds, type RunningProcess } from '../servers.js';
import { dataOf, headBlob, timedTransfer, transferMetrics } from './blobs.js';

const SKOPEO = '/usr/bin/skopeo';
const DOCKERD = '/usr/sbin/dockerd';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

// The client-test harness installs exit and signal handlers when loaded: loaded only when used.
let workspace: Workspace | undefined;
async function sharedWorkspace(): Promise<Workspace> {
  const { Workspace } = await import('../../test/clients/harness.js');
  return (workspace ??= new Workspace('bench-clients'));
}

const sha256 = (...parts: Buffer[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return `sha256:${h.digest('hex')}`;
};
const hexOf = (digest: string): string => digest.slice('sha256:'.length);

/** The round's unique layer: the first `size` bytes of the data and a 32-byte suffix. */
function layerParts(ctx: Context, label: string): { parts: Buffer[]; size: number } {
  const size = ctx.sizes.clientImageBytes;
  const suffix = uniqueSuffix(label);
  return { parts: [dataOf(ctx).bytes.subarray(0, size), suffix], size: size + suffix.length };
}

function writeParts(path: string, parts: Buffer[]): void {
  const fd = openSync(path, 'w');
  try {
    for (const p of parts) writeSync(fd, p);
  } finally {
    closeSync(fd);
  }
}

/** An OCI image layout holding one image (one layer, typed gzip so skopeo sends it as it is) tagged v1. */
function writeLayout(dir: string, layer: Buffer[], layerDigest: string, layerSize: number): { manifestDigest: string } {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  writeParts(join(blobs, hexOf(layerDigest)), layer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: OCI_LAYER, digest: layerDigest, size: layerSize }],
  }));
  const manifestDigest = sha256(manifest);
  writeFileSync(join(blobs, hexOf(sha256(config))), config);
  writeFileSync(join(blobs, hexOf(manifestDigest)), manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }],
  }));
  return { manifestDigest };
}

async function checkManifest(server: RunningProcess, repo: string, tag: string, digest: string, accept: string): Promise<Buffer> {
  const r = await send({ method: 'GET', url: `${server.url}/v2/${repo}/manifests/${tag}`, headers: { Accept: accept } });
  expectStatus(r, 200, `GET ${repo}:${tag}`);
  expectDigest(r, digest, `GET ${repo}:${tag}`);
  if (sha256(r.body) !== digest) throw new Error(`GET ${repo}:${tag}: body does not match ${digest}`);
  return r.body;
}

export const pushSkopeoScenario: Scenario = {
  name: 'push-skopeo',
  title: 'skopeo copy of a one-layer image from an OCI layout',
  metrics: transferMetrics(),
  tools: [SKOPEO],
  needsData: true,
  async run(server, ctx, rep): Promise<Sample> {
    const ws = await sharedWorkspace();
    const { parts, size } = layerParts(ctx, `skopeo ${server.name} ${rep} ${Date.now()}`);
    const layerDigest = dataOf(ctx).digest(ctx.sizes.clientImageBytes, parts[1]);
    const layout = ws.path(`layout-${server.name}-${rep}`);
    const { manifestDigest } = writeLayout(layout, parts, layerDigest, size);
    const repo = 'bench/skopeo';
    const tag = `r${rep}`;
    try {
      syncDisks();
      const sample = await timedTransfer(server, async () => {
        await ws.client(SKOPEO, ['--policy', ws.policyFile, 'copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false',
          `oci:${layout}:v1`, `docker://127.0.0.1:${server.port}/${repo}:${tag}`], { timeoutMs: 900_000 });
        return size;
      }, reapedChildrenCpuSeconds);
      await checkManifest(server, repo, tag, manifestDigest, 'application/vnd.oci.image.manifest.v1+json');
      await headBlob(server, repo, layerDigest, size);
      return sample;
    } finally {
      rmSync(layout, { recursive: true, force: true });
    }
  },
};

/** A ustar header for a regular file. */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
  h.write('        ', 148); // checksum field counts as spaces while summing
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A tar file entry: header, content, padding to 512 bytes. */
function tarEntry(name: string, parts: Buffer[]): Buffer[] {
  const size = parts.reduce((n, p) => n + p.length, 0);
  return [tarHeader(name, size), ...parts, Buffer.alloc((512 - (size % 512)) % 512)];
}

const TAR_END = Buffer.alloc(1024);

let engine: DockerEngine | undefined;
let engineFailure: unknown;

async function dockerEngine(): Promise<DockerEngine> {
  if (engine) return engine;
  if (engineFailure) throw engineFailure;
  const ws = await sharedWorkspace();
  const { startDocker } = await import('../../test/clients/engines.js');
  try {
    return (engine = await startDocker(ws));
  } catch (err) {
    engineFailure = err;
    throw err;
  }
}

/** dockerd and the containerd it runs: the processes that read, gzip and send the layer. */
function engineCpuSeconds(ws: Workspace): number {
  const pid = Number(readFileSync(ws.path('docker', 'docker.pid'), 'utf8').trim());
  return processCpuSeconds(pid) + reapedChildrenCpuSeconds();
}

export const pushDockerScenario: Scenario = {
  name: 'push-docker',
  title: 'docker push of a one-layer image',
  metrics: transferMetrics(),
  tools: [DOCKERD],
  needsData: true,
  async prepare() {
    await dockerEngine();
  },
  async run(server, ctx, rep): Promise<Sample> {
    const docker = await dockerEngine();
    const ws = await sharedWorkspace();
    const repo = 'bench/docker';
    const ref = `127.0.0.1:${server.port}/${repo}:r${rep}`;
    // docker load takes a `docker save` archive: manifest.json, the config, the layer as a tar.
    const { parts } = layerParts(ctx, `docker ${server.name} ${rep} ${Date.now()}`);
    const layerTar = [...tarEntry('blob.bin', parts), TAR_END];
    const diffId = sha256(...layerTar);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }));
    const configName = `${hexOf(sha256(config))}.json`;
    const layerName = `${hexOf(diffId)}/layer.tar`;
    const index = Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [ref], Layers: [layerName] }]));
    const archive = ws.path(`docker-${server.name}-${rep}.tar`);
    writeParts(archive, [...tarEntry(layerName, layerTar), ...tarEntry(configName, [config]), ...tarEntry('manifest.json', [index]), TAR_END]);
    let pushed: { digest: string; size: number } | undefined;
    try {
      await docker.docker(['load', '-q', '-i', archive], { timeoutMs: 600_000 });
      rmSync(archive, { force: true });
      syncDisks();
      const sample = await timedTransfer(server, async () => {
        const { stdout } = await docker.docker(['push', ref], { timeoutMs: 900_000 });
        const m = /digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(stdout);
        if (!m) throw new Error(`docker push ${ref} reported no digest:\n${stdout.slice(-500)}`);
        // What was sent: the gzipped layer the manifest names (one small GET inside the clock).
        const manifest = JSON.parse((await checkManifest(server, repo, `r${rep}`, m[1]!, DOCKER_MANIFEST)).toString()) as { layers: { digest: string; size: number }[] };
        pushed = manifest.layers[0]!;
        return pushed.size;
      }, () => engineCpuSeconds(ws));
      await headBlob(server, repo, pushed!.digest, pushed!.size);
      return sample;
    } finally {
      rmSync(archive, { force: true });
      await docker.docker(['rmi', '-f', ref]).catch(() => undefined);
    }
  },
};

/** Stops the Docker engine and removes the clients' workspace, if a scenario here started them. */
export async function finishClients(): Promise<void> {
  await engine?.stop();
  engine = undefined;
  workspace?.cleanup();
  workspace = undefined;
}
