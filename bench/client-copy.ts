/**
 * `npm run bench:copy`: `berth copy` (the command, on the client library's copy()) against
 * `skopeo copy` for one image between two local registries (the bench's client-copy scenario runs
 * the same copies; this one adds CPU profiles and the user/system split).
 * A source registry holds the image; every run copies it into a fresh destination registry, so
 * neither tool finds anything there (skopeo's blob-info cache is kept private to each run too).
 * Runs alternate the tools; reported: median wall time, the copying process's CPU (user+sys,
 * from /usr/bin/time) and both registries' CPU, per GiB.
 *
 *   node --import tsx bench/client-copy.ts [--size-mib 1024] [--layers 4] [--reps 3] [--server berth|distribution]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from '../src/client/remote/registry.js';
import { seedCopyImage, timedCopy, type CopyTool, type TimedCopy } from './copy-image.js';
import { startRegistry } from './servers.js';
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
/** With --profile DIR, berth's runs write CPU profiles there and a summary is printed. */
const profileDir = arg('profile', '');

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
}

interface Run extends TimedCopy { tool: CopyTool; srcCpu: number; dstCpu: number }

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-copy-'));
  const cli = join(REPO_ROOT, 'dist', 'cli.js');
  const start = (name: string) => startRegistry({ name: server, dir: join(dir, name), logLevel: 'error', profileDir: undefined, repoRoot: REPO_ROOT, berthCli: cli });
  const src = await start('src');
  const runs: Run[] = [];
  try {
    console.error(`seeding ${sizeMiB} MiB in ${layers} layers on ${server}…`);
    const manifestDigest = await seedCopyImage(`127.0.0.1:${src.port}`, 'bench/img', sizeMiB << 20, layers);
    const from = `127.0.0.1:${src.port}/bench/img:v1`;
    for (let rep = 0; rep < reps; rep++) {
      const order: CopyTool[] = rep % 2 === 0 ? ['berth', 'skopeo'] : ['skopeo', 'berth'];
      for (const tool of order) {
        const dst = await start(`dst-${rep}-${tool}`);
        const to = `127.0.0.1:${dst.port}/bench/img:v1`;
        const before = [cpuTicks(src.pid), cpuTicks(dst.pid)];
        const t = timedCopy(tool, from, to, { cli, scratch: dir, extraNodeArgs: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [] });
        const copied = await new Registry(`127.0.0.1:${dst.port}`, { credentials: null }).repository('bench/img').resolve('v1');
        if (copied.digest.value !== manifestDigest) throw new Error(`${tool} made ${copied.digest.value}, not ${manifestDigest}`);
        const srcCpu = (cpuTicks(src.pid) - before[0]!) / 100;
        const dstCpu = (cpuTicks(dst.pid) - before[1]!) / 100;
        runs.push({ tool, ...t, srcCpu, dstCpu });
        console.error(`${tool}: ${t.wall.toFixed(2)} s wall, ${t.cpu.toFixed(2)} s CPU (user ${t.user.toFixed(2)}, system ${t.sys.toFixed(2)}); source registry ${srcCpu.toFixed(2)} s, destination ${dstCpu.toFixed(2)} s CPU`);
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
  const row = (tool: CopyTool) => {
    const rs = runs.filter((r) => r.tool === tool);
    const per = (f: (r: Run) => number) => median(rs.map(f)) / gib;
    return { tool, wall: median(rs.map((r) => r.wall)), cpu: per((r) => r.cpu), user: per((r) => r.user), sys: per((r) => r.sys), src: per((r) => r.srcCpu), dst: per((r) => r.dstCpu) };
  };
  const c = row('berth');
  const s = row('skopeo');
  console.log(`copy of ${sizeMiB} MiB (${layers} layers) between two ${server} registries, median of ${reps}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('| tool | wall s | MiB/s | tool CPU s/GiB (user + system) | source registry CPU s/GiB | destination registry CPU s/GiB |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of [c, s]) console.log(`| ${r.tool} | ${r.wall.toFixed(2)} | ${(sizeMiB / r.wall).toFixed(0)} | ${r.cpu.toFixed(2)} (${r.user.toFixed(2)} + ${r.sys.toFixed(2)}) | ${r.src.toFixed(2)} | ${r.dst.toFixed(2)} |`);
  if (profileDir) console.log(summarizeProfiles(profileDir, 20));
  console.log(`berth/skopeo wall-time ratio: ${(c.wall / s.wall).toFixed(2)} (below 1: berth is faster)`);
}

await main();
