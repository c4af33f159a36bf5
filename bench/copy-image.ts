/**
 * What `npm run bench:copy` and the bench's client-copy scenario share: an image of random
 * `+gzip` layers seeded into a source registry, and one timed copy of it by `berth copy` or
 * `skopeo copy` (wall time and the tool's CPU from /usr/bin/time).
 *
 * Layers are random and typed +gzip so that skopeo copies them as they are: given compressible
 * content of an uncompressed type it would gzip it on the way (another image, and less to send).
 * skopeo runs with --preserve-digests and a blob-info cache of its own per run (a private
 * /var/lib/containers in a mount namespace), so it never learns where a blob already is.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Registry } from '../src/client/remote/registry.js';
import { MediaTypes } from '../src/oci/descriptor.js';
import { digestOf, parseDigest } from '../src/oci/digest.js';

const block = randomBytes(4 << 20);

/** A layer's content: the random 4 MiB block, stamped with layer and block numbers so no two blocks repeat. */
function* layerContent(layer: number, bytes: number): Generator<Buffer> {
  for (let off = 0, n = 0; off < bytes; off += block.length, n++) {
    const b = Buffer.from(block.subarray(0, Math.min(block.length, bytes - off)));
    b.writeUInt32BE(layer, 0);
    b.writeUInt32BE(n, 4);
    yield b;
  }
}

/** Pushes an image of `layers` layers, `bytes` in all, to HOST/REPO:v1; returns the manifest digest. */
export async function seedCopyImage(host: string, repository: string, bytes: number, layers: number): Promise<string> {
  const repo = new Registry(host, { credentials: null }).repository(repository);
  const per = Math.floor(bytes / layers);
  const descs = [];
  for (let l = 0; l < layers; l++) {
    const h = createHash('sha256');
    for (const b of layerContent(l, per)) h.update(b);
    const digest = parseDigest(`sha256:${h.digest('hex')}`);
    await repo.uploadBlob(() => Readable.from(layerContent(l, per)), { digest, size: per });
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest.value, size: per });
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  await repo.uploadBlob(config, { digest: digestOf(config), size: config.length });
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MediaTypes.ociManifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config).value, size: config.length },
    layers: descs,
  }));
  return (await repo.pushManifest(manifest, { mediaType: MediaTypes.ociManifest, tag: 'v1' })).digest.value;
}

export type CopyTool = 'berth' | 'skopeo';

export interface TimedCopy {
  wall: number;
  /** The tool's user + system CPU seconds. */
  cpu: number;
  user: number;
  sys: number;
}

/**
 * Runs one copy of FROM to TO (HOST/REPO:TAG) with `tool` under /usr/bin/time. `berth` is the
 * command (`node CLI copy -q`); `extraNodeArgs` go before the script (e.g. --cpu-prof).
 */
export function timedCopy(tool: CopyTool, from: string, to: string, o: { cli: string; scratch: string; extraNodeArgs?: string[] }): TimedCopy {
  const out = join(tmpdir(), `berth-bench-time-${process.pid}`);
  let cmd: string[];
  if (tool === 'skopeo') {
    const cache = join(o.scratch, `skopeo-cache-${Date.now()}`);
    const policy = join(o.scratch, 'policy.json');
    mkdirSync(cache, { recursive: true });
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    mkdirSync('/var/lib/containers', { recursive: true });
    cmd = ['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', 'mount --bind "$1" /var/lib/containers && shift && exec "$@"', 'sh', cache,
      'skopeo', '--policy', policy, 'copy', '--quiet', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${from}`, `docker://${to}`];
  } else {
    cmd = [process.execPath, ...(o.extraNodeArgs ?? []), o.cli, 'copy', '-q', from, to];
  }
  // No credentials of the machine's user: both tools reach the registries anonymously.
  const env = { ...process.env, HOME: o.scratch, DOCKER_CONFIG: join(o.scratch, '.docker'), REGISTRY_AUTH_FILE: join(o.scratch, 'auth.json') };
  writeFileSync(env.REGISTRY_AUTH_FILE, '{"auths":{}}');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', '-o', out, ...cmd], { stdio: ['ignore', 'ignore', 'pipe'], env });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr.toString().slice(-2000)}`);
  const [wall, user, sys] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  rmSync(out, { force: true });
  return { wall: wall!, cpu: user! + sys!, user: user!, sys: sys! };
}
