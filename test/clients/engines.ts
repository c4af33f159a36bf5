// Container engines for the client tests: a private Docker daemon (dockerd, which starts and stops
// its own containerd under its exec root) and a private containerd for `ctr`. Everything they keep
// lives under the workspace: data root, exec root, sockets, pid file, config; nothing under
// /var/lib/docker, /var/run, /etc/docker or /var/lib/containerd is read or written. No networking
// is set up (no bridge, no iptables), which is all a registry client needs.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DaemonStartError, type RunResult, type Workspace, run, startDaemon } from './harness.js';

/**
 * What a daemon's log says when the kernel (or the sandbox around it) refuses something it needs.
 * Only such a failure turns into a skipped test; any other start-up failure fails the test.
 */
const KERNEL_REFUSALS = /operation not permitted|permission denied|not supported by the kernel|no such device|function not implemented/i;

/** Why the engine could not start, when the kernel refused it; rethrows any other failure. */
export function kernelRefusal(err: unknown): string {
  if (err instanceof DaemonStartError && KERNEL_REFUSALS.test(err.log)) {
    const line = err.log.split('\n').find((l) => KERNEL_REFUSALS.test(l)) ?? '';
    return `the kernel refused to run ${err.describe.split(' ')[0]}: ${line.trim().slice(0, 300)}`;
  }
  throw err;
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve(false);
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** The Docker CLI of the docker.io package, beside dockerd (a newer CLI elsewhere on PATH is not what CI installs). */
function dockerCli(): string {
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

export interface DockerEngine {
  /** Runs the Docker CLI against this daemon, with the workspace's HOME (so ~/.docker/config.json is the workspace's). */
  docker(args: string[], opts?: { input?: string; cwd?: string; timeoutMs?: number; extraEnv?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** The CLI's config file (credentials written by `docker login`). */
  readonly configFile: string;
  stop(): Promise<void>;
}

/**
 * Starts dockerd on private paths under the workspace: vfs storage, no bridge, no iptables, its
 * own (empty) daemon.json instead of /etc/docker/daemon.json. Loopback registries are insecure
 * (plain HTTP) by default, so nothing else is configured.
 */
export async function startDocker(ws: Workspace): Promise<DockerEngine> {
  const dir = ws.path('docker');
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, 'docker.sock');
  const daemonJson = join(dir, 'daemon.json');
  writeFileSync(daemonJson, '{}\n');
  const daemon = await startDaemon({
    cmd: 'dockerd',
    args: [
      '--config-file', daemonJson,
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'docker.pid'),
      '-H', `unix://${sock}`,
      '--iptables=false', '--ip6tables=false', '--bridge=none',
      '--storage-driver=vfs',
    ],
    logPath: join(dir, 'dockerd.log'),
    ready: async () => (await socketAnswers(sock)) && (await run(dockerCli(), ['-H', `unix://${sock}`, 'version'], { timeoutMs: 10_000 }).then(() => true, () => false)),
    startMs: 60_000,
    stopMs: 20_000,
  });
  return {
    docker: (args, opts = {}) => ws.tool(dockerCli(), ['-H', `unix://${sock}`, ...args], { timeoutMs: 180_000, ...opts }),
    configFile: join(ws.home, '.docker', 'config.json'),
    stop: () => daemon.stop(),
  };
}

export interface ContainerdEngine {
  /** Runs `ctr` against this containerd, in its own namespace. */
  ctr(args: string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
  /** A blob of its content store (`ctr content get`), as bytes. */
  content(digest: string): Promise<Buffer>;
  stop(): Promise<void>;
}

/** Starts containerd on private paths under the workspace (no CRI plugin; the native snapshotter needs nothing of the kernel). */
export async function startContainerd(ws: Workspace): Promise<ContainerdEngine> {
  const dir = ws.path('containerd');
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(config, [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${sock}"`,
    '[ttrpc]',
    `  address = "${sock}.ttrpc"`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${join(dir, 'opt')}"`,
    '',
  ].join('\n'));
  const daemon = await startDaemon({
    cmd: 'containerd',
    args: ['--config', config],
    logPath: join(dir, 'containerd.log'),
    ready: () => socketAnswers(sock),
  });
  const base = ['--address', sock, '--namespace', 'berth-test'];
  return {
    ctr: (args, opts = {}) => ws.tool('ctr', [...base, ...args], { timeoutMs: 120_000, ...opts }),
    async content(digest) {
      // ctr writes the bytes to stdout, which run() reads as text: a file keeps them intact.
      const out = join(dir, `content-${digest.replace(':', '-')}`);
      await ws.tool('sh', ['-c', 'out="$1"; shift; exec "$@" > "$out"', 'sh', out, 'ctr', ...base, 'content', 'get', digest]);
      return readFileSync(out);
    },
    stop: () => daemon.stop(),
  };
}
