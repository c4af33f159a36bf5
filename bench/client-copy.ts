/**
 * `npm run bench:copy`: the client library's copy() against `skopeo copy` for one image between
 * two local registries (issue 14 needs `berth copy` at least as fast as skopeo, on this copy()).
 * A source registry holds the image; every run copies it into a fresh destination registry, so
 * neither tool finds anything there (skopeo's blob-info cache is kept private to each run too).
 * Runs alternate the tools; reported: median wall time, the copying process's CPU (user+sys,
 * from /usr/bin/time) and both registries' CPU, per GiB.
 *
 *   node --import tsx bench/client-copy.ts [--size-mib 1024] [--layers 4] [--reps 3] [--server berth|distribution]
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Registry } from '../src/client/remote/registry.js';
import { MediaTypes } from '../src/oci/descriptor.js';
import { digestOf, parseDigest } from '../src/oci/digest.js';
import { startRegistry, type RunningProcess } from './servers.js';
import type { ServerName } from './options.js';
import { summarizeProfiles } from './profile.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const sizeMiB = Number(arg('size-mib', '1024'));
const layers = Number(arg('layers', '4'));
const reps = Number(arg('reps', '3'));
const server = arg('server', 'berth') as ServerName;
/** With --profile DIR, the client's runs write CPU profiles there and a summary is printed. */
const profileDir = arg('profile', '');

/**
 * A layer's content: a random 4 MiB block, stamped with layer and block numbers so no two blocks
 * repeat. Random, and typed +gzip, so that skopeo copies it as it is: given compressible content
 * of an uncompressed type it would gzip it on the way (another image, and less to send).
 */
const block = randomBytes(4 << 20);
function* layerContent(layer: number, bytes: number): Generator<Buffer> {
  for (let off = 0, n = 0; off < bytes; off += block.length, n++) {
    const b = Buffer.from(block.subarray(0, Math.min(block.length, bytes - off)));
    b.writeUInt32BE(layer, 0);
    b.writeUInt32BE(n, 4);
    yield b;
  }
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
}

async function seed(src: RunningProcess): Promise<string> {
  const repo = new Registry(`127.0.0.1:${src.port}`, { credentials: null }).repository('bench/img');
  const per = Math.floor((sizeMiB << 20) / layers);
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

interface Run { tool: string; wall: number; cpu: number; srcCpu: number; dstCpu: number }

function timed(cmd: string[], env?: NodeJS.ProcessEnv): { wall: number; cpu: number } {
  const out = join(tmpdir(), `berth-bench-time-${process.pid}`);
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', '-o', out, ...cmd], { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr.toString().slice(-2000)}`);
  const [wall, user, sys] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  rmSync(out, { force: true });
  return { wall: wall!, cpu: user! + sys! };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-copy-'));
  const cli = join(REPO_ROOT, 'dist', 'cli.js');
  const start = (name: string) => startRegistry({ name: server, dir: join(dir, name), logLevel: 'error', profileDir: undefined, repoRoot: REPO_ROOT, berthCli: cli });
  const src = await start('src');
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const runs: Run[] = [];
  try {
    console.error(`seeding ${sizeMiB} MiB in ${layers} layers on ${server}…`);
    const manifestDigest = await seed(src);
    const from = `127.0.0.1:${src.port}/bench/img:v1`;
    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 === 0 ? ['client', 'skopeo'] : ['skopeo', 'client'];
      for (const tool of order) {
        const dst = await start(`dst-${rep}-${tool}`);
        const to = `127.0.0.1:${dst.port}/bench/img:v1`;
        const before = [cpuTicks(src.pid), cpuTicks(dst.pid)];
        let t: { wall: number; cpu: number };
        if (tool === 'skopeo') {
          const cache = join(dir, `cache-${rep}`);
          mkdirSync(cache, { recursive: true });
          mkdirSync('/var/lib/containers', { recursive: true });
          t = timed(['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', 'mount --bind "$1" /var/lib/containers && shift && exec "$@"', 'sh', cache,
            'skopeo', '--policy', policy, 'copy', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${from}`, `docker://${to}`]);
        } else {
          const script = `const { copy } = await import(${JSON.stringify(join(REPO_ROOT, 'dist', 'client', 'index.js'))}); await copy(process.argv[1], process.argv[2], { client: { credentials: null } });`;
          const prof = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
          t = timed([process.execPath, ...prof, '--input-type=module', '-e', script, from, to]);
        }
        const copied = await new Registry(`127.0.0.1:${dst.port}`, { credentials: null }).repository('bench/img').resolve('v1');
        if (copied.digest.value !== manifestDigest) throw new Error(`${tool} made ${copied.digest.value}, not ${manifestDigest}`);
        const srcCpu = (cpuTicks(src.pid) - before[0]!) / 100;
        const dstCpu = (cpuTicks(dst.pid) - before[1]!) / 100;
        runs.push({ tool, ...t, srcCpu, dstCpu });
        console.error(`${tool}: ${t.wall.toFixed(2)} s wall, ${t.cpu.toFixed(2)} s CPU; source registry ${srcCpu.toFixed(2)} s, destination ${dstCpu.toFixed(2)} s CPU`);
        await dst.stop();
        rmSync(join(dir, `dst-${rep}-${tool}`), { recursive: true, force: true });
      }
    }
  } finally {
    await src.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const gib = sizeMiB / 1024;
  const row = (tool: string) => {
    const rs = runs.filter((r) => r.tool === tool);
    return { tool, wall: median(rs.map((r) => r.wall)), cpu: median(rs.map((r) => r.cpu)) / gib, src: median(rs.map((r) => r.srcCpu)) / gib, dst: median(rs.map((r) => r.dstCpu)) / gib };
  };
  const c = row('client');
  const s = row('skopeo');
  console.log(`copy of ${sizeMiB} MiB (${layers} layers) between two ${server} registries, median of ${reps}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('| tool | wall s | MiB/s | tool CPU s/GiB | source registry CPU s/GiB | destination registry CPU s/GiB |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of [c, s]) console.log(`| ${r.tool} | ${r.wall.toFixed(2)} | ${(sizeMiB / r.wall).toFixed(0)} | ${r.cpu.toFixed(2)} | ${r.src.toFixed(2)} | ${r.dst.toFixed(2)} |`);
  if (profileDir) console.log(summarizeProfiles(profileDir, 20));
  console.log(`client/skopeo wall-time ratio: ${(c.wall / s.wall).toFixed(2)} (below 1: the client is faster)`);
}

await main();
