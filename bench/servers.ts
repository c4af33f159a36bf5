/**
 * Starting and stopping the servers under test (Berth, Distribution) and nginx (the physical
 * limit), each on a fresh root and a free loopback port, plus peak-RSS sampling from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request } from 'node:http';
import type { ServerName } from './options.js';
import type { S3DriverParams } from './s3.js';
import { treeTicks } from './noise.js';

export const DISTRIBUTION_BIN = '/usr/bin/docker-registry';
export const NGINX_BIN = '/usr/sbin/nginx';

export interface RunningProcess {
  name: string;
  pid: number;
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  root: string;
  logFile: string;
  stop(): Promise<void>;
  /** Highest resident set seen (MiB): VmHWM of the process and sampled VmRSS of its whole tree. */
  peakRssMiB(): number;
  /**
   * Highest footprint seen (MiB): the anonymous and shared-memory resident pages of every process
   * of the tree plus the largest file-backed resident set among them, sampled. Berth's workers each
   * map the same node binary (~43 MiB resident), which the RSS sum counts once per process; this
   * counts it once. For a single process it is its RSS.
   */
  peakFootprintMiB(): number;
  /** The peak RSS and footprint since the last call (or the start), and a new period from now: a scenario's own peak. */
  periodPeakMiB(): { rss: number; footprint: number };
}

/**
 * CPU time (user + system, seconds) a server has used so far, from /proc: the process and every
 * process under it (a server that runs workers is charged for all of them).
 */
export function processCpuSeconds(pid: number): number {
  return treeTicks(pid) / CLOCK_TICKS;
}

/** The system (kernel) part of processCpuSeconds: on this VM it swings with the cost of page-cache writes. */
export function processSystemCpuSeconds(pid: number): number {
  return treeTicks(pid, true) / CLOCK_TICKS;
}

/** CPU time (seconds) of this process's children that have exited and been waited for (cutime + cstime). */
export function reapedChildrenCpuSeconds(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux build this runs on. */
const CLOCK_TICKS = 100;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

/**
 * The same YAML for both registries: Debian's packaged /etc/docker/registry/config.yml without
 * auth and health checks, on our root and port. With `s3`, the filesystem section is replaced by
 * the s3 driver on that bucket (path-style URLs follow from `regionendpoint` in both registries;
 * Distribution 2.8.2 has no `forcepathstyle` key) and blob downloads are not redirected to S3, so
 * pulls go through the registry under test.
 */
/** The registries' configuration; `workers` (Berth only) is berth.workers. */
export function registryConfig(root: string, port: number, logLevel: string, s3?: S3DriverParams, workers?: string): string {
  const storage = s3
    ? ['  s3:', ...Object.entries(s3).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`), '  redirect:', '    disable: true']
    : ['  filesystem:', `    rootdirectory: ${root}`];
  return [
    'version: 0.1',
    'log:',
    `  level: ${logLevel}`,
    '  fields:',
    '    service: registry',
    'storage:',
    '  cache:',
    '    blobdescriptor: inmemory',
    ...storage,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: berth-bench-secret',
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    ...(workers ? ['berth:', `  workers: ${workers}`] : []),
    '',
  ].join('\n');
}

function readStatusKiB(pid: number, field: string): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function descendants(pid: number): number[] {
  const out: number[] = [pid];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const k of kids ? kids.split(/\s+/) : []) out.push(...descendants(Number(k)));
    }
  } catch {
    /* process gone */
  }
  return out;
}

/** Resident pages of a process that are its own (anonymous, shared memory) and file-backed (KiB). */
function residentKiB(pid: number): { own: number; file: number } {
  return { own: readStatusKiB(pid, 'RssAnon') + readStatusKiB(pid, 'RssShmem'), file: readStatusKiB(pid, 'RssFile') };
}

/**
 * Samples the tree every 200 ms, which can miss a short peak of a tree of several processes; a
 * single process's VmHWM (kept by the kernel) cannot miss it. A new period clears the VmHWM of
 * every process of the tree (`5` to /proc/PID/clear_refs), so each period's peak is its own.
 */
class RssSampler {
  private peakKiB = 0;
  private footprintKiB = 0;
  private periodKiB = 0;
  private periodFootprintKiB = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 200);
    this.timer.unref();
  }
  sample(): void {
    const tree = descendants(this.pid);
    const rss = Math.max(
      tree.reduce((acc, p) => acc + readStatusKiB(p, 'VmRSS'), 0),
      readStatusKiB(this.pid, 'VmHWM'),
    );
    const parts = tree.map(residentKiB);
    const footprint = parts.reduce((acc, p) => acc + p.own, 0) + Math.max(0, ...parts.map((p) => p.file));
    this.periodKiB = Math.max(this.periodKiB, rss);
    this.periodFootprintKiB = Math.max(this.periodFootprintKiB, footprint);
    this.peakKiB = Math.max(this.peakKiB, rss);
    this.footprintKiB = Math.max(this.footprintKiB, footprint);
  }
  newPeriod(): { rss: number; footprint: number } {
    this.sample();
    const out = { rss: this.periodKiB / 1024, footprint: this.periodFootprintKiB / 1024 };
    for (const p of descendants(this.pid)) {
      try {
        writeFileSync(`/proc/${p}/clear_refs`, '5');
      } catch {
        /* an older kernel or a process gone: the period's peak includes earlier ones */
      }
    }
    this.periodKiB = 0;
    this.periodFootprintKiB = 0;
    this.sample();
    return out;
  }
  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }
  peakMiB(): number {
    return this.peakKiB / 1024;
  }
  peakFootprintMiB(): number {
    return this.footprintKiB / 1024;
  }
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitReady(child: ChildProcess, url: string, logFile: string, name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    const status = await getStatus(url);
    if (status >= 200 && status < 500) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  let tail = '';
  try {
    tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    /* no log */
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not answer ${url} (exit ${String(child.exitCode ?? child.signalCode)}); log tail:\n${tail}`);
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface StartRegistryOptions {
  name: ServerName;
  dir: string;
  logLevel: string;
  /** Folder for --cpu-prof output (Berth only), or undefined. */
  profileDir: string | undefined;
  repoRoot: string;
  /** Berth's entry: the `berth` launcher (bin/berth), or a .js/.cjs file run with node. */
  berthCli: string;
  /** Extra node options for Berth, on node's command line (cluster workers get them too). */
  nodeArgs?: string[];
  /** The s3 driver on this bucket instead of the filesystem under `dir`. */
  s3?: S3DriverParams;
}

/** A `berth` launcher script rather than a JavaScript entry for node. */
function isLauncher(entry: string): boolean {
  return !/\.[cm]?js$/.test(entry);
}

export async function startRegistry(opts: StartRegistryOptions): Promise<RunningProcess> {
  const root = join(opts.dir, 'root');
  mkdirSync(root, { recursive: true });
  const port = await freePort();
  const configPath = join(opts.dir, 'config.yml');
  const berth = opts.name !== 'distribution';
  writeFileSync(configPath, registryConfig(root, port, opts.logLevel, opts.s3, berth ? (opts.name === 'berth-auto' ? 'auto' : '1') : undefined));
  const logFile = join(opts.dir, `${opts.name}.log`);
  const log = createWriteStream(logFile);
  await new Promise((r) => log.once('open', r));
  let cmd: string;
  let args: string[];
  // As bin/berth and bin/berth.cjs do, also for a private build's cli.js given with --berth.
  const env: NodeJS.ProcessEnv = berth ? { UV_THREADPOOL_SIZE: '16', ...process.env } : { ...process.env };
  // Distribution's aws-sdk-go v1 panics at start when AWS_CA_BUNDLE is set ("HTTPClient's
  // transport unsupported type"); the RGW the bench starts is plain http on loopback (an https
  // S3_ENDPOINT with a private CA would need it, which Distribution 2.8.2 cannot take this way).
  if (opts.s3 && opts.name === 'distribution') delete env.AWS_CA_BUNDLE;
  if (berth) {
    const cli = opts.berthCli;
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
    const nodeArgs = [...(opts.nodeArgs ?? [])];
    if (opts.profileDir) {
      mkdirSync(opts.profileDir, { recursive: true });
      nodeArgs.push('--cpu-prof', '--cpu-prof-dir', opts.profileDir);
    }
    // On node's command line either way, so that cluster workers get them too (their execArgv).
    if (isLauncher(cli)) {
      // The `berth` command itself, with the node options it gives (bin/berth).
      cmd = '/bin/sh';
      args = [cli, 'serve', configPath];
      if (nodeArgs.length) env.BERTH_NODE_ARGS = [env.BERTH_NODE_ARGS, ...nodeArgs].filter(Boolean).join(' ');
    } else {
      cmd = process.execPath;
      args = [...nodeArgs, cli, 'serve', configPath];
    }
  } else {
    cmd = DISTRIBUTION_BIN;
    args = ['serve', configPath];
  }
  const child = spawn(cmd, args, { cwd: opts.repoRoot, stdio: ['ignore', log, log], env });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(child, `${url}/v2/`, logFile, opts.name);
  const sampler = new RssSampler(child.pid);
  return {
    name: opts.name,
    pid: child.pid,
    url,
    port,
    root,
    logFile,
    async stop() {
      sampler.stop();
      await stopChild(child, 15_000);
      log.end();
    },
    peakRssMiB: () => {
      sampler.sample(); // a short-lived process may not have met the 200 ms sampling tick yet
      return sampler.peakMiB();
    },
    peakFootprintMiB: () => {
      sampler.sample();
      return sampler.peakFootprintMiB();
    },
    periodPeakMiB: () => sampler.newPeriod(),
  };
}

/** nginx serving `www` with keep-alive and sendfile, one worker, no access log. */
export async function startNginx(dir: string, www: string): Promise<RunningProcess> {
  const port = await freePort();
  for (const d of ['tmp', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  const logFile = join(dir, 'logs', 'error.log');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${logFile} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  types { application/octet-stream bin; application/vnd.oci.image.manifest.v1+json json; }
  client_body_temp_path ${join(dir, 'tmp')};
  proxy_temp_path ${join(dir, 'tmp')};
  fastcgi_temp_path ${join(dir, 'tmp')};
  uwsgi_temp_path ${join(dir, 'tmp')};
  scgi_temp_path ${join(dir, 'tmp')};
  server { listen 127.0.0.1:${port}; root ${www}; }
}
`,
  );
  const child = spawn(NGINX_BIN, ['-e', logFile, '-p', dir, '-c', conf], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('could not start nginx');
  const url = `http://127.0.0.1:${port}`;
  await waitReady(child, `${url}/`, logFile, 'nginx');
  return {
    name: 'nginx',
    pid: child.pid,
    url,
    port,
    root: www,
    logFile,
    stop: () => stopChild(child, 5_000),
    peakRssMiB: () => 0,
    peakFootprintMiB: () => 0,
    periodPeakMiB: () => ({ rss: 0, footprint: 0 }),
  };
}
