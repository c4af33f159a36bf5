// Harness for the real-client tests: starts registries as child processes on free loopback ports,
// runs container tools (skopeo, buildah, podman, umoci) with all of their state in a temp dir,
// and turns a failing command into an error that names the command, its exit code and stderr.
//
// Target: the server under test is Berth (`node dist/cli.js serve CONFIG`) unless
// CLIENT_TEST_TARGET=distribution, which points the same tests at Debian's `docker-registry`
// (CNCF Distribution 2.8.2) to validate the tests themselves.
//
// Isolation: each Workspace owns HOME, XDG dirs, TMPDIR, the auth file, registries.conf,
// storage.conf, containers.conf and a policy.json. Tools running as root keep a blob-info cache
// in /var/lib/containers/cache whatever --root says (skopeo always, podman 4.3 on pull); so every
// client runs in a private mount namespace (unshare) where the workspace's own directory is
// bind-mounted over /var/lib/containers. Nothing under ~/.config or /var/lib/containers is used.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type RegistryKind = 'berth' | 'distribution';

/** The server the client tests talk to: Berth by default, Distribution to validate the tests. */
export function targetKind(): RegistryKind {
  const t = process.env.CLIENT_TEST_TARGET ?? 'berth';
  if (t !== 'berth' && t !== 'distribution') {
    throw new Error(`CLIENT_TEST_TARGET must be "berth" or "distribution", not ${JSON.stringify(t)}`);
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// Tools

/** Which Debian package provides each tool the client tests run. */
const TOOL_PACKAGES: Record<string, string> = {
  skopeo: 'skopeo',
  umoci: 'umoci',
  buildah: 'buildah',
  podman: 'podman',
  'docker-registry': 'docker-registry',
  htpasswd: 'apache2-utils',
  dockerd: 'docker.io',
  docker: 'docker.io',
  containerd: 'containerd',
  ctr: 'containerd',
  unshare: 'util-linux',
  mount: 'mount',
  tar: 'tar',
};

function onPath(tool: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

/** Fails, naming the Debian package to install, when a needed tool is missing. */
export function requireTools(...tools: string[]): void {
  const needed = new Set([...tools, 'unshare', 'mount']);
  if (targetKind() === 'distribution') needed.add('docker-registry');
  const missing = [...needed].filter((t) => !onPath(t));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => TOOL_PACKAGES[t] ?? t))];
    throw new Error(
      `missing tool(s) ${missing.join(', ')}: install the Debian package(s) ${pkgs.join(' ')} ` +
        `(apt-get install -y --no-install-recommends ${pkgs.join(' ')}, or run scripts/ci-setup.sh as root)`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new Error('the client tests run container tools as root (vfs storage, private mount namespace): run them as root');
  }
}

// ---------------------------------------------------------------------------------------------
// Running commands

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  input?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
    reason: string,
  ) {
    super(`${reason}: ${command}\nexit code: ${exitCode}\nstderr:\n${tail(stderr, 4000)}${stdout ? `\nstdout:\n${tail(stdout, 1500)}` : ''}`);
    this.name = 'CommandError';
  }
}

function tail(text: string, max: number): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs a command to completion; rejects with a CommandError on a non-zero exit or a timeout. */
export function run(cmd: string, args: string[], opts: RunOptions = {}, shown?: string): Promise<RunResult> {
  const command = shown ?? [cmd, ...args].map(quote).join(' ');
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout kills everything it started
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(command, null, stdout, `${stderr}${err.message}`, 'could not start'));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new CommandError(command, code, stdout, stderr, `timed out after ${timeoutMs} ms`));
      else if (code !== 0) reject(new CommandError(command, code, stdout, stderr, 'command failed'));
      else resolvePromise({ stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a tool that exits without reading its stdin
    child.stdin.end(opts.input ?? '');
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------
// Workspace: per-run client state

export class Workspace {
  readonly dir: string;
  readonly home: string;
  readonly tmp: string;
  readonly authFile: string;
  readonly policyFile: string;
  readonly storageRoot: string;
  readonly storageRunRoot: string;
  private readonly varLibContainers: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(label: string) {
    this.dir = mkdtempSync(join(tmpdir(), `berth-${label}-`));
    workspaces.add(this);
    const sub = (p: string) => {
      const full = join(this.dir, p);
      mkdirSync(full, { recursive: true });
      return full;
    };
    this.home = sub('home');
    this.tmp = sub('tmp');
    this.storageRoot = sub('storage/root');
    this.storageRunRoot = sub('storage/runroot');
    this.varLibContainers = sub('var-lib-containers');
    const runtimeDir = sub('xdg-runtime');
    sub('home/.config');
    sub('home/.local/share');
    this.authFile = join(this.dir, 'auth.json');
    writeFileSync(this.authFile, '{"auths":{}}\n');
    this.policyFile = join(this.dir, 'policy.json');
    writeFileSync(this.policyFile, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const registriesConf = join(this.dir, 'registries.conf');
    writeFileSync(registriesConf, 'unqualified-search-registries = []\nshort-name-mode = "permissive"\n');
    const storageConf = join(this.dir, 'storage.conf');
    writeFileSync(
      storageConf,
      `[storage]\ndriver = "vfs"\ngraphroot = "${this.storageRoot}"\nrunroot = "${this.storageRunRoot}"\n`,
    );
    const containersConf = join(this.dir, 'containers.conf');
    writeFileSync(containersConf, '[engine]\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\n');

    const base: NodeJS.ProcessEnv = {};
    for (const key of ['PATH', 'LANG', 'LC_ALL', 'TZ']) if (process.env[key]) base[key] = process.env[key];
    this.env = {
      ...base,
      PATH: base.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: this.home,
      XDG_RUNTIME_DIR: runtimeDir,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      XDG_DATA_HOME: join(this.home, '.local/share'),
      TMPDIR: this.tmp,
      REGISTRY_AUTH_FILE: this.authFile,
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      CONTAINERS_STORAGE_CONF: storageConf,
      CONTAINERS_CONF: containersConf,
      BUILDAH_ISOLATION: 'chroot',
      STORAGE_DRIVER: 'vfs',
    };
  }

  /** Flags for buildah/podman that put their image store in this workspace. */
  get storageFlags(): string[] {
    return ['--root', this.storageRoot, '--runroot', this.storageRunRoot, '--storage-driver', 'vfs'];
  }

  /**
   * Runs a container tool with this workspace's environment, in a private mount namespace whose
   * /var/lib/containers is this workspace's own directory.
   */
  client(tool: string, args: string[], opts: Omit<RunOptions, 'env'> = {}): Promise<RunResult> {
    mkdirSync('/var/lib/containers', { recursive: true }); // mount point only; never written to
    const script = 'mount --bind "$1" /var/lib/containers && shift && exec "$@"';
    return run(
      'unshare',
      ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'sh', this.varLibContainers, tool, ...args],
      { timeoutMs: 120_000, ...opts, env: this.env, cwd: opts.cwd ?? this.dir },
      [tool, ...args].map(quote).join(' '),
    );
  }

  /** Runs a plain tool (umoci, tar, htpasswd, docker) with this workspace's environment, plus `extraEnv`. */
  tool(tool: string, args: string[], opts: Omit<RunOptions, 'env'> & { extraEnv?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return run(tool, args, { ...opts, env: { ...this.env, ...opts.extraEnv }, cwd: opts.cwd ?? this.dir });
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  cleanup(): void {
    workspaces.delete(this);
    if (process.env.CLIENT_TEST_KEEP) return;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Registries

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export interface ConfigOptions {
  root: string;
  port: number;
  /** Extra YAML appended at top level (must not repeat a key written here). */
  extra?: string;
  /** Lines added under `http:` (indented by two spaces). */
  httpExtra?: string;
}

/** A Distribution-format config that both servers accept. */
export function registryConfig(o: ConfigOptions): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${o.root}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${o.port}`,
    '  secret: berth-client-tests-secret',
    ...(o.httpExtra ? [o.httpExtra.replace(/^/gm, '  ')] : []),
    ...(o.extra ? [o.extra] : []),
    '',
  ].join('\n');
}

export interface RunningRegistry {
  kind: RegistryKind;
  /** host:port, as used in image references */
  host: string;
  url: string;
  root: string;
  configPath: string;
  logPath: string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
const workspaces = new Set<Workspace>();
function killLive(): void {
  for (const child of live) killGroup(child, 'SIGKILL');
  for (const ws of workspaces) {
    try {
      ws.cleanup();
    } catch {
      // best effort while dying
    }
  }
}
process.on('exit', killLive);
// A test process stopped by a signal (the runner's SIGTERM, ^C) runs no 'exit' handlers: stop the
// servers, then die of the same signal.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killLive();
    process.kill(process.pid, signal);
  });
}

function serverEnv(): NodeJS.ProcessEnv {
  // Drop REGISTRY_* (both servers read them as config overrides: REGISTRY_AUTH_FILE, meant for
  // clients, would otherwise become auth.file) and anything that could change their behaviour.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_') && !k.startsWith('OTEL_')) env[k] = v;
  return env;
}

export interface StartOptions {
  kind?: RegistryKind;
  root: string;
  /** Directory for the config file and log (defaults to the root's parent). */
  stateDir?: string;
  /** Full config text, or a function of the port; by default registryConfig({root, port}). */
  config?: string | ((port: number) => string);
  port?: number;
  /** Environment variables for the server on top of the test's (whose REGISTRY_* and OTEL_* are dropped). */
  env?: Record<string, string>;
}

export interface DaemonOptions {
  cmd: string;
  args: string[];
  /** Where its stdout and stderr go. */
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** True once the daemon serves; polled every 100 ms. */
  ready: () => Promise<boolean>;
  /** How long to wait for `ready` (default 30 s). */
  startMs?: number;
  /** How long SIGTERM is given before SIGKILL on stop (default 10 s). */
  stopMs?: number;
}

export interface RunningDaemon {
  pid: number;
  /** Stops it (SIGTERM, then SIGKILL) and everything left in its process group. */
  stop(): Promise<void>;
}

/** The error a daemon's failed start-up throws: names the command and ends with its log. */
export class DaemonStartError extends Error {
  constructor(readonly describe: string, readonly reason: string, readonly log: string) {
    super(`${describe} ${reason}; log:\n${tail(log, 4000)}`);
    this.name = 'DaemonStartError';
  }
}

/**
 * Starts a long-running process (a registry, dockerd, containerd) in its own process group, killed
 * when the test process ends however it ends, and waits until `ready` says it serves.
 */
export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const describe = [opts.cmd, ...opts.args].join(' ');
  const log = createWriteStream(opts.logPath);
  const child = spawn(opts.cmd, opts.args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let exited: number | null | undefined;
  const exitPromise = new Promise<void>((res) =>
    child.on('exit', (code, signal) => {
      exited = code ?? (signal ? -1 : null);
      live.delete(child);
      res();
    }),
  );
  const deadline = Date.now() + (opts.startMs ?? 30_000);
  for (;;) {
    if (exited !== undefined) {
      await new Promise((r) => setTimeout(r, 50));
      log.end();
      throw new DaemonStartError(describe, `exited with code ${exited} before it served`, readLog(opts.logPath));
    }
    if (await opts.ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      killGroup(child, 'SIGKILL');
      log.end();
      throw new DaemonStartError(describe, `did not serve within ${(opts.startMs ?? 30_000) / 1000} s`, readLog(opts.logPath));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    async stop() {
      if (exited === undefined) {
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), opts.stopMs ?? 10_000);
        await exitPromise;
        clearTimeout(timer);
      }
      killGroup(child, 'SIGKILL'); // anything left in its group
      log.end();
    },
  };
}

/** Starts a registry as a child process in its own process group and waits until /v2/ answers. */
export async function startRegistry(opts: StartOptions): Promise<RunningRegistry> {
  const kind = opts.kind ?? targetKind();
  const port = opts.port ?? (await freePort());
  const stateDir = opts.stateDir ?? dirname(opts.root);
  mkdirSync(opts.root, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  const configText =
    typeof opts.config === 'function' ? opts.config(port) : (opts.config ?? registryConfig({ root: opts.root, port }));
  const stamp = `${kind}-${port}-${Date.now()}`;
  const configPath = join(stateDir, `config-${stamp}.yml`);
  const logPath = join(stateDir, `log-${stamp}.txt`);
  writeFileSync(configPath, configText);

  let cmd: string;
  let args: string[];
  if (kind === 'berth') {
    const cli = join(REPO_ROOT, 'dist', 'cli.js');
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does it)`);
    cmd = process.execPath;
    args = [cli, 'serve', configPath];
  } else {
    cmd = 'docker-registry';
    args = ['serve', configPath];
  }

  const url = `http://127.0.0.1:${port}`;
  const daemon = await startDaemon({
    cmd,
    args,
    logPath,
    // Berth as one process unless the test asks for workers (berth.workers defaults to the CPUs; test/cluster/ runs them).
    env: { ...serverEnv(), ...(kind === 'berth' ? { REGISTRY_BERTH_WORKERS: '1' } : {}), ...opts.env },
    ready: async () => {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200 || res.status === 401;
    },
  });
  return { kind, host: `127.0.0.1:${port}`, url, root: opts.root, configPath, logPath, stop: () => daemon.stop() };
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// Digests, OCI layouts, HTTP helpers

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export function layoutBlob(layout: string, digest: string): Buffer {
  const [alg, hex] = digest.split(':');
  return readFileSync(join(layout, 'blobs', alg!, hex!));
}

export function layoutIndex(layout: string): { manifests: Descriptor[] } {
  return JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
}

/** The descriptor in an OCI layout's index.json tagged `ref`. */
export function layoutRef(layout: string, ref: string): Descriptor {
  const d = layoutIndex(layout).manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!d) throw new Error(`no ref ${ref} in ${layout}/index.json`);
  return d;
}

/** Config and layer digests (the blobs proper) reachable from a manifest or index in a layout. */
export function layoutBlobDigests(layout: string, digest: string, out: string[] = []): string[] {
  const doc = JSON.parse(layoutBlob(layout, digest).toString('utf8')) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  for (const child of doc.manifests ?? []) layoutBlobDigests(layout, child.digest, out);
  if (doc.config) out.push(doc.config.digest);
  for (const l of doc.layers ?? []) out.push(l.digest);
  return out;
}

/**
 * Every digest reachable from a manifest or index in a layout (itself, children, configs, layers),
 * after checking that each blob's content hashes to its name and matches its descriptor's size.
 */
export function layoutClosure(layout: string, digest: string, out: string[] = []): string[] {
  const data = layoutBlob(layout, digest);
  if (sha256(data) !== digest) throw new Error(`${layout}: blob ${digest} does not hash to its name`);
  out.push(digest);
  const doc = JSON.parse(data.toString('utf8')) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  for (const child of doc.manifests ?? []) layoutClosure(layout, child.digest, out);
  for (const blob of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
    const b = layoutBlob(layout, blob.digest);
    if (sha256(b) !== blob.digest) throw new Error(`${layout}: blob ${blob.digest} does not hash to its name`);
    if (b.length !== blob.size) throw new Error(`${layout}: blob ${blob.digest} has ${b.length} bytes, descriptor says ${blob.size}`);
    out.push(blob.digest);
  }
  return out;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** GET a manifest over plain HTTP: its bytes, content type and Docker-Content-Digest. */
export async function getManifest(url: string, repo: string, ref: string): Promise<{ status: number; body: Buffer; contentType: string; digest: string | null }> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${ref}`, { headers: { Accept: MANIFEST_ACCEPT } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body, contentType: res.headers.get('content-type') ?? '', digest: res.headers.get('docker-content-digest') };
}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // leave as text
  }
  return { status: res.status, body: body as T };
}

/** Reads the whole catalog, following Link pagination. */
export async function catalog(url: string): Promise<string[]> {
  const repos: string[] = [];
  let next: string | null = `${url}/v2/_catalog?n=100`;
  while (next) {
    const res: Response = await fetch(next);
    if (res.status !== 200) throw new Error(`GET ${next}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { repositories?: string[] };
    repos.push(...(body.repositories ?? []));
    const link = res.headers.get('link');
    const m = link ? /<([^>]+)>/.exec(link) : null;
    next = m ? new URL(m[1]!, url).toString() : null;
  }
  return repos.sort();
}

export async function tagList(url: string, repo: string): Promise<string[]> {
  const res = await getJson<{ tags?: string[] | null }>(`${url}/v2/${repo}/tags/list`);
  if (res.status !== 200) throw new Error(`GET /v2/${repo}/tags/list: ${res.status} ${JSON.stringify(res.body)}`);
  return [...(res.body.tags ?? [])].sort();
}

/** Regular files in a (possibly gzip-compressed) tar archive, by path without a leading "./" or "/". */
export function tarFiles(archive: Buffer): Map<string, Buffer> {
  const data = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const files = new Map<string, Buffer>();
  let off = 0;
  let longName: string | null = null;
  while (off + 512 <= data.length) {
    const header = data.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, len: number) => header.subarray(start, start + len).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    let name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = null;
    const body = data.subarray(off + 512, off + 512 + size);
    if (type === 'L') longName = body.toString('utf8').replace(/\0.*$/s, '');
    else if (type === '0' || type === '\0') {
      name = name.replace(/^\.?\//, '');
      files.set(name, Buffer.from(body));
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}
