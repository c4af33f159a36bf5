/**
 * `npm run bench`: Berth and Distribution 2.8.2 side by side, nginx as the physical limit.
 * Both registries run for the whole bench, each on a fresh root; every scenario alternates them
 * (A,B then B,A) for each repetition and reports medians. With `--storage s3` both run on buckets
 * of one S3 server (a throw-away Ceph RGW) instead. See docs/performance.md.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataFile, type DataFile } from './data.js';
import { parseOptions, usage, type Options, type ServerName, type StorageMode } from './options.js';
import { markdownTable, rows, summarize, textTable, type ScenarioResult } from './report.js';
import { errorSample, type Context, type Sample, type Scenario } from './scenario.js';
import { DISTRIBUTION_BIN, NGINX_BIN, startNginx, startRegistry, type RunningProcess } from './servers.js';
import { pullCurlScenario, pullScenario, pushChunkedScenario, pushMonolithicScenario, warmUpBytes } from './scenarios/blobs.js';
import { finishClients, pushDockerScenario, pushSkopeoScenario } from './scenarios/clients.js';
import { clientCopyScenario } from './scenarios/client-copy.js';
import { blobHeadScenario, manifestGetScenario } from './scenarios/load.js';
import { pushConcurrentScenario } from './scenarios/concurrent.js';
import { catalogScenario, tagListScenario } from './scenarios/listing.js';
import { s3CatalogScenario, s3TagsLastScenario, s3TagsScenario } from './scenarios/s3-listing.js';
import { s3UiScenario, uiScenario } from './scenarios/ui.js';
import { startS3, type S3Service } from './s3.js';
import { summarizeProfiles } from './profile.js';
import { foreignCores, mark } from './noise.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Execution order: listings first, so the catalog sees exactly the seeded repositories. */
const SCENARIOS: Scenario[] = [
  tagListScenario,
  catalogScenario,
  uiScenario,
  pushMonolithicScenario,
  pushChunkedScenario,
  pushSkopeoScenario,
  pushDockerScenario,
  clientCopyScenario,
  pullScenario,
  pullCurlScenario,
  manifestGetScenario,
  blobHeadScenario,
  pushConcurrentScenario,
];

/**
 * A filesystem scenario run on S3 storage: titled "s3: …", without the filesystem targets (issue
 * 7 sets none for these on S3) and without the nginx limit (a local file is no limit for S3).
 */
function onS3(s: Scenario): Scenario {
  return { ...s, title: `s3: ${s.title}`, metrics: s.metrics.map(({ target: _t, ...m }) => m), limit: undefined };
}

/** --storage s3: listings first (they fill their own bucket), then transfers on each server's bucket. */
const S3_SCENARIOS: Scenario[] = [
  { ...s3CatalogScenario, title: `s3: ${s3CatalogScenario.title}` },
  { ...s3TagsScenario, title: `s3: ${s3TagsScenario.title}` },
  { ...s3TagsLastScenario, title: `s3: ${s3TagsLastScenario.title}` },
  s3UiScenario,
  onS3(pushMonolithicScenario),
  onS3(pushChunkedScenario),
  onS3(pushSkopeoScenario),
  onS3(pullScenario),
  onS3(pullCurlScenario),
  onS3(manifestGetScenario),
];

const scenariosFor = (storage: StorageMode): Scenario[] => (storage === 's3' ? S3_SCENARIOS : SCENARIOS);

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function pickServers(opts: Options): ServerName[] {
  const haveDistribution = existsSync(DISTRIBUTION_BIN);
  if (opts.servers) {
    if (opts.servers.includes('distribution') && !haveDistribution) throw new Error(`${DISTRIBUTION_BIN} is missing`);
    return opts.servers;
  }
  if (haveDistribution) return ['berth', 'berth-auto', 'distribution'];
  if (opts.quick) {
    log(`${DISTRIBUTION_BIN} is absent: --quick runs Berth only`);
    return ['berth', 'berth-auto'];
  }
  throw new Error(`${DISTRIBUTION_BIN} is missing (apt-get install docker-registry), or pass --servers berth`);
}

function pickScenarios(opts: Options): Scenario[] {
  const known = scenariosFor(opts.storage);
  if (!opts.scenarios) return known;
  return opts.scenarios.map((name) => {
    const s = known.find((x) => x.name === name);
    if (!s) throw new Error(`unknown scenario ${name} with --storage ${opts.storage}; known: ${known.map((x) => x.name).join(', ')}`);
    return s;
  });
}

/** First output of a command, whatever its exit status (wrk -v exits 1). */
function tryRun(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || 'unknown';
}

function machine(storage: StorageMode, s3: S3Service | undefined): Record<string, unknown> {
  return {
    storage,
    ...(s3 ? { s3: s3.origin === 'rgw' ? `Ceph RGW started by the bench (${tryRun('radosgw', ['--version']).split('\n')[0]})` : s3.endpoint } : {}),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    node: process.version,
    distribution: existsSync(DISTRIBUTION_BIN) ? tryRun(DISTRIBUTION_BIN, ['--version']) : 'absent',
    wrk: existsSync('/usr/bin/wrk') ? tryRun('wrk', ['-v']).split('\n')[0] : 'absent',
    berthCommit: tryRun('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']),
    berthDirty: tryRun('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', 'src']).length > 0,
  };
}

/**
 * Writes out what earlier runs left in the page cache before each timed run, so the kernel's
 * writeback of gigabytes pushed a minute ago (which takes CPU and disk on this 2-core machine)
 * lands in no server's figures: each run starts from the same clean state.
 */
function settleDisk(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

async function runScenario(
  scenario: Scenario,
  servers: RunningProcess[],
  ctx: Context,
): Promise<ScenarioResult> {
  const started = performance.now();
  const before = loadavg()[0]!;
  const samples = new Map<string, Sample[]>(servers.map((s) => [s.name, []]));
  const otherCores: number[] = [];
  const limitSamples: Sample[] = [];
  const missing = (scenario.tools ?? []).filter((t) => !existsSync(t));
  const usable = new Set<string>();
  for (const server of servers) {
    if (missing.length) {
      samples.get(server.name)!.push(errorSample(new Error(`missing ${missing.join(', ')}`)));
      continue;
    }
    try {
      log(`${scenario.name}: preparing ${server.name}`);
      await scenario.prepare?.(server, ctx);
      usable.add(server.name);
    } catch (err) {
      log(`${scenario.name}: ${server.name} preparation failed: ${String(err)}`);
      samples.get(server.name)!.push(errorSample(err));
    }
  }
  for (let rep = 0; rep < ctx.sizes.reps; rep++) {
    const order = rep % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      if (!usable.has(server.name)) continue;
      let sample: Sample;
      settleDisk();
      const m0 = mark();
      try {
        sample = await scenario.run(server, ctx, rep);
      } catch (err) {
        sample = errorSample(err);
      }
      otherCores.push(foreignCores(m0, mark()));
      samples.get(server.name)!.push(sample);
      const shown = Object.entries(sample.values)
        .map(([k, v]) => `${v.toFixed(2)} ${k}`)
        .join(', ');
      log(`${scenario.name} #${rep + 1} ${server.name}: ${shown}${sample.errors ? `, ${sample.errors} errors: ${sample.notes.join('; ')}` : ''}`);
    }
    // The physical limit is measured in the same rounds, so it sees the same machine load.
    if (scenario.limit && ctx.nginx && !missing.length) {
      try {
        limitSamples.push(await scenario.limit(ctx.nginx, ctx));
      } catch (err) {
        limitSamples.push(errorSample(err));
      }
    }
  }
  let limit: ScenarioResult['limit'];
  if (limitSamples.length) {
    limit = summarize(limitSamples, scenario.metrics);
    if (limit.errors) log(`${scenario.name}: nginx limit errors: ${limit.notes.join('; ')}`);
  }
  const result: ScenarioResult = {
    name: scenario.name,
    title: scenario.title,
    metrics: scenario.metrics,
    servers: {},
    limit,
    loadavg: { before, after: loadavg()[0]! },
    otherCores,
    peakRssMiB: Object.fromEntries(servers.map((p) => [p.name, p.peakRssMiB()])),
    ownPeakMiB: Object.fromEntries(servers.map((p) => [p.name, p.periodPeakMiB()])),
    seconds: (performance.now() - started) / 1000,
  };
  for (const server of servers) {
    result.servers[server.name as ServerName] = summarize(samples.get(server.name)!, scenario.metrics);
  }
  const own = Object.entries(result.ownPeakMiB).map(([name, m]) => `${name} ${m.rss.toFixed(0)} (footprint ${m.footprint.toFixed(0)})`);
  log(`${scenario.name}: peak RSS during it, MiB: ${own.join(', ')}`);
  return result;
}

function noiseLine(results: ScenarioResult[]): string {
  const all = results.flatMap((r) => r.otherCores);
  const per = results.map((r) => `${r.name} ${(r.otherCores.reduce((a, b) => a + b, 0) / Math.max(1, r.otherCores.length)).toFixed(2)}`);
  const mean = all.reduce((a, b) => a + b, 0) / Math.max(1, all.length);
  return `mean ${mean.toFixed(2)}, max ${Math.max(0, ...all).toFixed(2)} (${per.join(', ')})`;
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(usage());
    return 0;
  }
  if (parsed === 'list') {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(18)} ${s.title}`);
    console.log('\nwith --storage s3:');
    for (const s of S3_SCENARIOS) console.log(`${s.name.padEnd(18)} ${s.title}`);
    return 0;
  }
  const opts = parsed;
  const serverNames = pickServers(opts);
  const scenarios = pickScenarios(opts);
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  chmodSync(work, 0o755); // nginx workers run as an unprivileged user and must read www/
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const tag = opts.storage === 's3' ? 's3-' : '';
  const running: RunningProcess[] = [];
  let exitCode = 0;
  let s3: S3Service | undefined;
  /** Stops RGW if the bench started it; set as soon as start-rgw.sh runs. */
  let stopRgw: (() => Promise<void>) | undefined;
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    for (const p of running.splice(0)) await p.stop().catch(() => undefined);
    await finishClients().catch((err: unknown) => log(`stopping the client scenarios' engine: ${String(err)}`));
    if (s3) await s3.stop(opts.keep).catch((err: unknown) => log(`stopping S3: ${String(err)}`));
    else if (stopRgw) await stopRgw().catch((err: unknown) => log(`stopping RGW: ${String(err)}`));
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  };
  const onSignal = (): void => {
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const s = opts.sizes;
    log(`servers: ${serverNames.join(', ')}; scenarios: ${scenarios.map((x) => x.name).join(', ')}; work dir ${work}`);
    let data: DataFile | undefined;
    if (scenarios.some((x) => x.needsData)) {
      const sizes = [s.monolithicBytes, s.chunkedBytes, s.pullBytes, s.clientImageBytes];
      const size = Math.max(...sizes);
      sizes.push(warmUpBytes(s.monolithicBytes), warmUpBytes(s.chunkedBytes));
      log(`generating ${(size / 2 ** 20).toFixed(0)} MiB of random data`);
      mkdirSync(join(work, 'www'), { recursive: true });
      data = generateDataFile(join(work, 'www', 'blob.bin'), size, sizes);
    }
    let nginx: RunningProcess | undefined;
    if (existsSync(NGINX_BIN) && scenarios.some((x) => x.limit)) {
      mkdirSync(join(work, 'www'), { recursive: true });
      nginx = await startNginx(join(work, 'nginx'), join(work, 'www'));
      running.push(nginx);
      log(`nginx on ${nginx.url}`);
    } else if (scenarios.some((x) => x.limit)) {
      log(`${NGINX_BIN} is absent: no physical limits measured`);
    }
    if (opts.storage === 's3') {
      // 8 GiB of OSD capacity (RAM, only as used): the pushes stay well under it, see options.ts.
      s3 = await startS3({ log, storeBytes: 8 * 2 ** 30 }, (stop) => (stopRgw = stop));
    }
    const servers: RunningProcess[] = [];
    for (const name of serverNames) {
      const bucket = s3 ? await s3.createBucket(name) : undefined;
      const p = await startRegistry({
        name,
        dir: join(work, name),
        logLevel: opts.logLevel,
        profileDir: opts.profile && name === 'berth' ? join(out, `profile-${stamp}`) : undefined,
        repoRoot: REPO_ROOT,
        berthCli: resolve(opts.berthCli),
        nodeArgs: opts.berthNodeArgs,
        s3: bucket && s3 ? { ...s3.params(bucket), ...opts.s3Params } : undefined,
      });
      running.push(p);
      servers.push(p);
      log(`${name} on ${p.url} (pid ${p.pid})${bucket ? `, bucket ${bucket}` : ''}`);
    }
    let instances = 0;
    const startServer = async (name: ServerName, bucket: string, label: string): Promise<RunningProcess> => {
      if (!s3) throw new Error('startServer needs --storage s3');
      const p = await startRegistry({
        name,
        dir: join(work, `${name}-${label}-${++instances}`),
        logLevel: opts.logLevel,
        profileDir: undefined,
        repoRoot: REPO_ROOT,
        berthCli: resolve(opts.berthCli),
        nodeArgs: opts.berthNodeArgs,
        s3: { ...s3.params(bucket), ...opts.s3Params },
      });
      running.push(p);
      return {
        ...p,
        async stop() {
          await p.stop();
          const i = running.indexOf(p);
          if (i >= 0) running.splice(i, 1);
        },
      };
    };
    const ctx: Context = { sizes: s, data, nginx, pin: opts.pin, log, storage: opts.storage, s3, startServer };
    const machineInfo = { ...machine(opts.storage, s3), loadavgStart: loadavg() };
    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) results.push(await runScenario(scenario, servers, ctx));
    const rss: Partial<Record<ServerName, number>> = {};
    const footprint: Partial<Record<ServerName, number>> = {};
    for (const p of servers) {
      rss[p.name as ServerName] = p.peakRssMiB();
      footprint[p.name as ServerName] = p.peakFootprintMiB();
    }
    // Stop the registries now so Berth writes its CPU profile, and keep their logs.
    for (const p of servers) {
      await p.stop();
      running.splice(running.indexOf(p), 1);
      try {
        linkSync(p.logFile, join(out, `${p.name}-${tag}${stamp}.log`));
      } catch {
        /* the log is optional */
      }
    }
    const table = rows(results, rss, footprint);
    const totalErrors = results.reduce(
      (n, r) => n + Object.values(r.servers).reduce((m, x) => m + (x?.errors ?? 0), 0),
      0,
    );
    const report = {
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      date: new Date().toISOString(),
      machine: { ...machineInfo, loadavgEnd: loadavg() },
      settings: { ...s, storage: opts.storage, pin: opts.pin ?? null, logLevel: opts.logLevel, servers: serverNames, ...(Object.keys(opts.s3Params).length ? { s3Params: opts.s3Params } : {}) },
      results,
      peakRssMiB: rss,
      peakFootprintMiB: footprint,
      errors: totalErrors,
      markdown: markdownTable(table),
    };
    // S3 runs are named apart (bench-s3-…, latest-s3.json) so latest.json stays the filesystem run.
    const file = join(out, `bench-${tag}${stamp}.json`);
    writeFileSync(file, JSON.stringify(report, null, 2));
    writeFileSync(join(out, `latest${tag ? '-s3' : ''}.json`), JSON.stringify(report, null, 2));
    console.log(textTable(table));
    console.log('');
    for (const r of results) {
      for (const [name, x] of Object.entries(r.servers)) {
        for (const note of x?.notes ?? []) console.log(`note: ${r.name} ${name}: ${note}`);
      }
    }
    const la = report.machine.loadavgEnd;
    console.log(`load average at the end: ${la.map((v) => v.toFixed(2)).join(' ')} on ${cpus().length} CPUs`);
    console.log(`CPU taken by other processes during timed runs (cores, of ${cpus().length}): ${noiseLine(results)}`);
    console.log(`results: ${file}`);
    if (opts.profile) {
      const dir = join(out, `profile-${stamp}`);
      if (existsSync(dir)) console.log(`\nBerth CPU profile (${dir}):\n${summarizeProfiles(dir, 25)}`);
    }
    if (totalErrors > 0) {
      console.error(`${totalErrors} errors`);
      exitCode = 1;
    }
  } finally {
    await cleanup();
  }
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
