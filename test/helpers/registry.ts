/**
 * Starts a registry for the spec tests: Berth in-process by default, or Distribution 2.8.2 as a
 * child process when BERTH_TEST_TARGET=distribution. Storage is always the filesystem driver in a
 * fresh temp dir: `base` is the temp dir, `root` (= base/storage) the storage root, so tests can
 * check that nothing lands beside the root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { observed, request, type ReqOptions, type Res } from './http.js';
import { target, DISTRIBUTION_BINARY, type Target } from './target.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RegistryOptions {
  /** A complete YAML config; `{{root}}` and `{{addr}}` are replaced with the storage root and listen address. */
  yaml?: string;
  /** Environment overrides (REGISTRY_*), passed to parseConfig or to the child's environment. */
  env?: Record<string, string>;
  /** storage.delete.enabled (default true). Ignored when `yaml` is given. */
  deleteEnabled?: boolean;
  /** storage.maintenance.readonly.enabled (default false). Ignored when `yaml` is given. */
  readonly?: boolean;
  /** Extra top-level YAML appended to the default config (e.g. a validation section). */
  extraYaml?: string;
  /** Use an existing storage root instead of a fresh one (crash/restart tests). */
  base?: string;
  /** A child Berth: the module run with `serve CONFIG` instead of src/cli.ts (a test fixture around it). */
  entry?: string;
}

export interface Registry {
  target: Target;
  url: string;
  /** The temp dir holding the storage root; nothing else should appear in it. */
  base: string;
  /** The storage root directory (filesystem driver rootdirectory). */
  root: string;
  /** Child process id when the registry runs as a child (distribution target, or startChildRegistry). */
  pid?: number;
  req(method: string, pathOrUrl: string, opts?: ReqOptions): Promise<Res>;
  /** Stops the server; removes the temp dir unless `keep` is true. */
  stop(opts?: { keep?: boolean }): Promise<void>;
  /** SIGKILLs a child-process registry (crash tests); the temp dir is kept. */
  kill?(): Promise<void>;
  /** A child-process registry's stderr so far (its log; the last 4 MiB). */
  output?(): string;
  /** Whether a child-process registry is still running, and its exit code once it is not. */
  exitCode?(): number | null | undefined;
  /** Resolves when a child-process registry has exited. */
  exited?: Promise<void>;
}

export function defaultYaml(o: { deleteEnabled?: boolean; readonly?: boolean; extraYaml?: string } = {}): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    '    rootdirectory: {{root}}',
    '  delete:',
    `    enabled: ${o.deleteEnabled ?? true}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    '    readonly:',
    `      enabled: ${o.readonly ?? false}`,
    'http:',
    '  addr: {{addr}}',
    o.extraYaml ?? '',
    '',
  ].join('\n');
}

function render(yaml: string, root: string, addr: string): string {
  return yaml.replaceAll('{{root}}', root).replaceAll('{{addr}}', addr);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function makeBase(opts: RegistryOptions): Promise<{ base: string; root: string; fresh: boolean }> {
  if (opts.base) return { base: opts.base, root: path.join(opts.base, 'storage'), fresh: false };
  const base = await mkdtemp(path.join(os.tmpdir(), 'berth-api-'));
  return { base, root: path.join(base, 'storage'), fresh: true };
}

/**
 * Wraps stop() with the suite-wide check that this registry never answered a 5xx (raw-socket
 * requests included, which do not throw on their own).
 */
function handle(partial: Omit<Registry, 'req'>): Registry {
  const host = new URL(partial.url).host;
  const stop = partial.stop;
  return {
    ...partial,
    req: (method, p, o) => request(partial.url, method, p, o),
    async stop(o) {
      await stop(o);
      const bad = observed.filter((r) => r.status >= 500 && !r.allowed && r.url.startsWith(host));
      if (bad.length > 0) throw new Error(`registry at ${host} answered server errors: ${bad.map((b) => `${b.status} ${b.method} ${b.url}`).join('; ')}`);
    },
  };
}

/** The registry under test, in the mode chosen by BERTH_TEST_TARGET. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  if (target === 'distribution') return startChild('distribution', opts);
  const { base, root, fresh } = await makeBase(opts);
  const yaml = render(opts.yaml ?? defaultYaml(opts), root, '127.0.0.1:0');
  // Imported lazily so that the distribution-target mode works before Berth's server exists.
  const { parseConfig } = await import('../../src/config/load.js');
  const { startServer } = await import('../../src/api/server.js');
  const { pino } = await import('pino');
  const { config } = parseConfig(yaml, opts.env ?? {});
  const server = await startServer(config, pino({ level: 'silent' }));
  return handle({
    target: 'berth',
    url: server.url.replace(/\/$/, ''),
    base,
    root,
    async stop(o = {}) {
      await server.close();
      if (fresh && !o.keep) await rm(base, { recursive: true, force: true });
    },
  });
}

/**
 * The registry as a separate process (Berth through its CLI, or Distribution), for tests that
 * kill it or measure its memory.
 */
export async function startChildRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  return startChild(target, opts);
}

/** Distribution 2.8.2 as a child process whatever BERTH_TEST_TARGET says (an upstream for mirror tests). */
export async function startDistribution(opts: RegistryOptions = {}): Promise<Registry> {
  return startChild('distribution', opts);
}

async function startChild(which: Target, opts: RegistryOptions): Promise<Registry> {
  const { base, root, fresh } = await makeBase(opts);
  const port = await freePort();
  const configPath = path.join(os.tmpdir(), `berth-api-config-${process.pid}-${port}.yml`);
  await writeFile(configPath, render(opts.yaml ?? defaultYaml(opts), root, `127.0.0.1:${port}`));
  // One process unless the test asks for workers (berth.workers defaults to the CPUs).
  const env = { ...process.env, REGISTRY_BERTH_WORKERS: '1', ...(opts.env ?? {}) };
  const child: ChildProcess = which === 'distribution'
    ? spawn(DISTRIBUTION_BINARY, ['serve', configPath], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, ['--import', 'tsx', opts.entry ?? path.join(REPO_ROOT, 'src', 'cli.ts'), 'serve', configPath], { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4 * 1024 * 1024); });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code) => { exitCode = code; resolve(); }));
  let dead = false;
  void exited.then(() => { dead = true; });
  const url = `http://127.0.0.1:${port}`;
  // A safety net, not a timing: the loop ends as soon as /v2/ answers or the child exits. Under
  // a loaded machine tsx's first compile of src/ alone has taken over 20 s.
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (dead) throw new Error(`${which} registry exited during start-up: ${stderr.slice(-4000)}`);
    try {
      const res = await request(url, 'GET', '/v2/');
      if (res.status === 200 || res.status === 401) break; // 401: up, with auth on
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`${which} registry did not start: ${stderr.slice(-4000)}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  const cleanup = async (keep: boolean) => {
    await rm(configPath, { force: true });
    if (fresh && !keep) await rm(base, { recursive: true, force: true });
  };
  return handle({
    target: which,
    url,
    base,
    root,
    pid: child.pid,
    output: () => stderr,
    exitCode: () => (dead ? exitCode : undefined),
    exited,
    async stop(o = {}) {
      if (!dead) {
        child.kill('SIGTERM');
        const t = setTimeout(() => { if (!dead) child.kill('SIGKILL'); }, 3000);
        await exited;
        clearTimeout(t);
      }
      await cleanup(o.keep ?? false);
    },
    async kill() {
      if (!dead) { child.kill('SIGKILL'); await exited; }
      await rm(configPath, { force: true });
    },
  });
}
