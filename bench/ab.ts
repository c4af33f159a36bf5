/**
 * Paired comparison of Berth builds on the blob data path: each build runs as its own server, and
 * every round pushes (monolithic and chunked) and pulls the same sizes to each build in turn,
 * order rotating, so all builds see the same machine in the same minute. Reports each build's
 * server CPU seconds per GiB (its process tree, from /proc: what holds on a busy machine) and the
 * client's, per scenario, as medians with every sample. For judging one change to the data path;
 * `npm run bench` is the comparison with Distribution.
 *
 *   node --import tsx bench/ab.ts --build NAME=CLI [--build NAME=CLI …] [--rounds 5]
 *     [--mib 256] [--chunk-mib 16] [--scenario mono,chunked,pull] [--node-arg NAME=ARG] [--profile DIR]
 *     [--storage s3]
 *
 * CLI is a Berth entry (bin/berth, the command with its node options; bin/berth.cjs or a private
 * build's entry for plain node). `--node-arg NAME=--flag` starts
 * that build's node with the flag (e.g. --max-semi-space-size=32); `--profile DIR` starts every
 * build under --cpu-prof into DIR/NAME. `--storage s3` puts each build on its own bucket of one S3
 * server (a Ceph RGW started here, or S3_ENDPOINT's; as `npm run bench -- --storage s3`, blob
 * redirects off so the bytes go through Berth), and reports the CPU per GiB of RGW's daemons (radosgw,
 * ceph-osd, ceph-mon, from /proc) beside each build's when it started RGW itself.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { expectDigest, expectStatus, location, send, sha256, startUpload, withQuery } from './client.js';
import { foreignCores, mark } from './noise.js';
import { processCpuSeconds, startRegistry, type RunningProcess } from './servers.js';
import { startS3, type S3DriverParams, type S3Service } from './s3.js';

interface Build {
  name: string;
  cli: string;
  nodeArgs: string[];
  server?: RunningProcess;
}

const GiB = 2 ** 30;

function parse(argv: string[]) {
  const builds: Build[] = [];
  let rounds = 5;
  let mib = 256;
  let chunkMib = 16;
  let scenarios = ['mono', 'chunked', 'pull'];
  let profile: string | undefined;
  let s3 = false;
  const nodeArgs = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1] ?? '';
    switch (argv[i]) {
      case '--build': {
        const [name, cli] = v.split('=');
        builds.push({ name: name!, cli: resolve(cli!), nodeArgs: [] });
        break;
      }
      case '--node-arg': {
        const at = v.indexOf('=');
        const list = nodeArgs.get(v.slice(0, at)) ?? [];
        list.push(v.slice(at + 1));
        nodeArgs.set(v.slice(0, at), list);
        break;
      }
      case '--rounds':
        rounds = Number(v);
        break;
      case '--mib':
        mib = Number(v);
        break;
      case '--chunk-mib':
        chunkMib = Number(v);
        break;
      case '--scenario':
        scenarios = v.split(',');
        break;
      case '--profile':
        profile = resolve(v);
        break;
      case '--storage':
        if (v !== 's3' && v !== 'filesystem') throw new Error('--storage s3 or filesystem');
        s3 = v === 's3';
        break;
      default:
        throw new Error(`unknown option ${argv[i]}`);
    }
    i++;
  }
  for (const b of builds) b.nodeArgs = nodeArgs.get(b.name) ?? [];
  if (builds.length === 0) throw new Error('--build NAME=CLI at least once');
  return { builds, rounds, bytes: mib * 2 ** 20, chunk: chunkMib * 2 ** 20, scenarios, profile, s3 };
}

/** A Berth server of `build`, with the build's extra node flags. */
function start(build: Build, dir: string, profile: string | undefined, s3: S3DriverParams | undefined): Promise<RunningProcess> {
  return startRegistry({
    name: 'berth',
    dir: join(dir, build.name),
    logLevel: 'error',
    profileDir: profile ? join(profile, build.name) : undefined,
    repoRoot: process.cwd(),
    berthCli: build.cli,
    nodeArgs: build.nodeArgs,
    s3,
  });
}

async function pushMono(base: string, data: Buffer, suffix: Buffer, agent: Agent): Promise<string> {
  const digest = sha256(data, suffix);
  const upload = await startUpload(base, 'ab/mono', agent);
  const r = await send({ method: 'PUT', url: withQuery(upload, { digest }), headers: { 'Content-Type': 'application/octet-stream' }, body: { kind: 'buffers', parts: [data, suffix] }, agent });
  expectStatus(r, 201, 'PUT');
  expectDigest(r, digest, 'PUT');
  return digest;
}

async function pushChunked(base: string, data: Buffer, suffix: Buffer, chunk: number, agent: Agent): Promise<string> {
  const digest = sha256(data, suffix);
  let url = await startUpload(base, 'ab/chunked', agent);
  const total = data.length + suffix.length;
  for (let start = 0; start < total; start += chunk) {
    const end = Math.min(total, start + chunk);
    const parts = end <= data.length ? [data.subarray(start, end)] : [data.subarray(start), suffix];
    const r = await send({ method: 'PATCH', url, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end - 1}` }, body: { kind: 'buffers', parts }, agent });
    expectStatus(r, 202, 'PATCH');
    url = location(base, r);
  }
  const r = await send({ method: 'PUT', url: withQuery(url, { digest }), agent });
  expectStatus(r, 201, 'PUT');
  expectDigest(r, digest, 'PUT');
  return digest;
}

/** Pull with curl, as the bench does (its CPU is the client's). */
function pull(base: string, digest: string): Promise<number> {
  return new Promise((resolveP, reject) => {
    const c = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download}', `${base}/v2/ab/mono/blobs/${digest}`]);
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolveP(Number(out)) : reject(new Error(`curl exited ${code}`))));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'berth-ab-'));
  const data = Buffer.allocUnsafe(opts.bytes);
  randomFillSync(data);
  const results = new Map<string, { server: number[]; client: number[]; mbs: number[]; others: number[]; store: number[] }>();
  const record = (key: string, server: number, client: number, mbs: number, others: number, store: number) => {
    const r = results.get(key) ?? { server: [], client: [], mbs: [], others: [], store: [] };
    r.server.push(server);
    r.client.push(client);
    r.mbs.push(mbs);
    r.others.push(others);
    r.store.push(store);
    results.set(key, r);
  };
  /** The S3 store's CPU seconds by daemon (RGW started here), or {} on the filesystem. */
  const storeCpu = (): Record<string, number> => s3?.storeCpu() ?? {};
  let s3: S3Service | undefined;
  let stopS3 = async (): Promise<void> => undefined;
  try {
    if (opts.s3) s3 = await startS3({ log: (m) => console.log(`[ab] ${m}`), storeBytes: 8 * GiB }, (stop) => (stopS3 = stop));
    for (const b of opts.builds) b.server = await start(b, dir, opts.profile, s3 ? s3.params(await s3.createBucket(b.name)) : undefined);
    const lastDigest = new Map<string, string>();
    for (let round = 0; round < opts.rounds; round++) {
      const order = opts.builds.map((_, i) => opts.builds[(i + round) % opts.builds.length]!);
      for (const scenario of opts.scenarios) {
        for (const b of order) {
          const server = b.server!;
          const agent = new Agent({ keepAlive: true });
          const suffix = Buffer.from(`${b.name}-${round}-${scenario}-${Date.now()}-${Math.random()}`.padEnd(64, '.'));
          if (scenario !== 'pull') execFileSync('sync');
          const store0 = storeCpu();
          const cpu0 = processCpuSeconds(server.pid);
          const me0 = process.cpuUsage();
          const m0 = mark();
          const t0 = performance.now();
          let bytes = data.length + suffix.length;
          if (scenario === 'mono') lastDigest.set(b.name, await pushMono(server.url, data, suffix, agent));
          else if (scenario === 'chunked') await pushChunked(server.url, data, suffix, opts.chunk, agent);
          else {
            const digest = lastDigest.get(b.name) ?? (await pushMono(server.url, data, suffix, agent));
            lastDigest.set(b.name, digest);
            bytes = await pull(server.url, digest);
          }
          const seconds = (performance.now() - t0) / 1000;
          const m1 = mark();
          const me = process.cpuUsage(me0);
          const clientCpu = (me.user + me.system) / 1e6;
          const serverCpu = processCpuSeconds(server.pid) - cpu0;
          agent.destroy();
          const store1 = storeCpu();
          const others = foreignCores(m0, m1);
          const perGiB = (serverCpu * GiB) / bytes;
          const storeRoles = Object.keys(store1).map((role) => [role, ((store1[role]! - (store0[role] ?? 0)) * GiB) / bytes] as const);
          const storePerGiB = storeRoles.length ? storeRoles.reduce((n, [, v]) => n + v, 0) : NaN;
          record(`${scenario} ${b.name}`, perGiB, scenario === 'pull' ? NaN : (clientCpu * GiB) / bytes, bytes / seconds / 1e6, others, storePerGiB);
          const storeText = storeRoles.length ? `  store ${storePerGiB.toFixed(2)} s/GiB (${storeRoles.map(([r, v]) => `${r} ${v.toFixed(2)}`).join(', ')})` : '';
          console.log(`[ab] round ${round + 1} ${scenario.padEnd(7)} ${b.name.padEnd(10)} server ${perGiB.toFixed(2)} s/GiB  client ${scenario === 'pull' ? ' -  ' : ((clientCpu * GiB) / bytes).toFixed(2)} s/GiB${storeText}  ${(bytes / seconds / 1e6).toFixed(0)} MB/s  others ${others.toFixed(2)} cores`);
        }
      }
    }
    console.log(`\nscenario / build        server s/GiB (median; samples)            client s/GiB  ${s3 ? 'store s/GiB  ' : ''}MB/s  other cores`);
    for (const [key, r] of results) {
      const store = s3 ? `${Number.isNaN(median(r.store)) ? '  -  ' : median(r.store).toFixed(2)}  ` : '';
      console.log(`${key.padEnd(24)} ${median(r.server).toFixed(2).padStart(5)}  (${r.server.map((x) => x.toFixed(2)).join(' ')})  ${Number.isNaN(median(r.client)) ? '  -  ' : median(r.client).toFixed(2)}  ${store}${median(r.mbs).toFixed(0)}  ${median(r.others).toFixed(2)}`);
    }
    for (const b of opts.builds) console.log(`peak RSS ${b.name}: ${b.server!.peakRssMiB().toFixed(0)} MiB`);
  } catch (err) {
    for (const b of opts.builds) if (b.server) console.error(`--- ${b.name} log (end):\n${readFileSync(b.server.logFile, 'utf8')}`);
    throw err;
  } finally {
    for (const b of opts.builds) await b.server?.stop();
    await stopS3();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
