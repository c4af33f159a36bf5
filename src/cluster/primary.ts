import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { LoginLimiter } from '../auth/ratelimit.js';
import { bind } from '../api/bind.js';
import { Dealer } from './dealer.js';
import { Channel } from './ipc.js';
import { SLOT_ENV, URL_ENV } from './worker.js';

/** How long the primary waits for a worker's answer when it carries a change or asks for a claim. */
const ANSWER_MS = 1500;
/** A worker that dies sooner than this after starting is restarted after a growing pause (1 s doubling to 30 s). */
const STEADY_MS = 10_000;

interface Member {
  slot: number;
  worker: Worker;
  channel: Channel;
  ready: boolean;
  startedAt: number;
}

/** A worker exited before it was ready; with an exit code it has said why itself (a configuration problem in one line, or its error logged). */
export class WorkerStartError extends Error {
  constructor(
    readonly slot: number,
    readonly code: number | null,
    readonly signal: string | null,
  ) {
    super(`worker ${slot} exited while starting (${code !== null ? `code ${code}` : `signal ${signal}`})`);
  }
}

export interface Primary {
  /** The registry's URL. */
  readonly url: string;
  readonly debugUrl: string | undefined;
  /** The workers' process ids, by slot. */
  pids(): number[];
  /** Tells every worker to drain (http.draintimeout) and resolves once all have exited: true when all exited cleanly. */
  stop(): Promise<boolean>;
  /** Kills every worker now. */
  kill(): void;
}

/** The young generation each worker starts with: V8's default is 2 × 16 MiB. */
export const WORKER_SEMI_SPACE = '--max-semi-space-size=8';

/**
 * Node's command line for the workers: the primary's, with WORKER_SEMI_SPACE first unless the
 * operator sized the young generation (on node's command line or in NODE_OPTIONS). Under load each
 * worker grows its young generation to V8's maximum and keeps it resident; half of it costs no
 * measurable CPU per request or per GiB pushed (docs/performance.md, "Peak RSS").
 */
export function workerExecArgv(execArgv: readonly string[], nodeOptions = ''): string[] {
  const sized = [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => /^--max[-_]semi[-_]space[-_]size\b/.test(arg));
  return sized ? [...execArgv] : [WORKER_SEMI_SPACE, ...execArgv];
}

/**
 * The primary process of `berth serve` with berth.workers above 1 (docs/architecture.md,
 * "Workers"). It serves no registry requests: it binds http.addr and hands each connection to the
 * worker with the fewest open (src/cluster/dealer.ts). It starts the workers (the jobs worker,
 * slot 0, first: it creates what must exist once, such as the token issuer's key, before the
 * others read it), replaces one
 * that dies, drains all on stop, and carries between them what is per process: storage changes,
 * failed-login counts, the garbage collector's guard, the mirror's fetch turns (tag locks and
 * quota checks use them too), quota holds and expiry pulls.
 * It also runs the debug server, answering /debug/health and /metrics for the whole.
 */
export async function startPrimary(config: Config, logger: Logger, count: number): Promise<Primary> {
  const log = logger.child({ component: 'cluster' });
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS) });
  const members = new Map<number, Member>();
  // Bound before any worker starts, so that an address in use fails at once and workers know the URL.
  const dealer = new Dealer();
  const url = await bind(dealer.server, config);
  const env: NodeJS.ProcessEnv = { [URL_ENV]: url };
  if (!config.http.secret) {
    log.warn('http.secret is not set: the workers share a random one, so uploads cannot move between instances behind a load balancer');
    env.REGISTRY_HTTP_SECRET = randomBytes(32).toString('base64url');
  }
  let stopping = false;
  let manualDown = false;
  const limiters = new Map<string, LoginLimiter>();
  const attempts = new Map<number, { release(): void }>();
  let nextAttempt = 1;
  /** Fetch turns (and tag locks) by key: the worker holding it and the answers waiting for it to end. */
  const turns = new Map<string, { holder: Worker; waiting: Array<(granted: boolean) => void> }>();
  /** Quota holds (pushes in flight, src/policy/usage.ts) by the worker that made them, ended for the others if it dies. */
  const quotaHolds = new Map<Worker, Set<string>>();
  /** Guard claims by owner and digest: which workers hold the digest for it. */
  const claims = new Map<Worker, Map<string, Member[]>>();
  const crashes = new Map<number, number>();

  const others = (w: Worker) => [...members.values()].filter((m) => m.worker !== w && m.worker.isConnected());
  const askAll = async <T>(to: Member[], type: string, body: unknown): Promise<Array<T | undefined>> =>
    Promise.all(to.map((m) => m.channel.call<T>(type, body, ANSWER_MS).catch(() => undefined)));

  const endTurn = (key: string) => {
    const turn = turns.get(key);
    turns.delete(key);
    for (const answer of turn?.waiting ?? []) answer(false);
  };
  const releaseClaims = (owner: Worker, digest?: string) => {
    const held = claims.get(owner);
    if (!held) return;
    for (const [d, by] of held) {
      if (digest !== undefined && d !== digest) continue;
      for (const m of by) m.channel.notice('guard-release', d);
      held.delete(d);
    }
  };

  const wire = (m: Member) => {
    const { channel, worker } = m;
    channel.handle('connections-closed', (count) => dealer.closed(worker, count as number));
    channel.handle('changes', async (changes) => {
      await askAll(others(worker), 'changes', changes);
    });
    const limiter = (body: { max: number; windowMs: number }) => {
      const key = `${body.max}/${body.windowMs}`;
      let l = limiters.get(key);
      if (!l) limiters.set(key, (l = new LoginLimiter(body.max, body.windowMs)));
      return l;
    };
    channel.handle('limit-check', (body) => {
      const b = body as { max: number; windowMs: number; keys: string[] };
      return { retryAfter: limiter(b).retryAfter(b.keys) };
    });
    channel.handle('limit-reserve', (body) => {
      const b = body as { max: number; windowMs: number; keys: string[] };
      const l = limiter(b);
      const retryAfter = l.retryAfter(b.keys);
      if (retryAfter !== undefined) return { retryAfter };
      const id = nextAttempt++;
      attempts.set(id, l.reserve(b.keys));
      // An attempt not given back within the window no longer matters.
      setTimeout(() => attempts.delete(id), b.windowMs).unref();
      return { id };
    });
    channel.handle('limit-release', (id) => {
      attempts.get(id as number)?.release();
      attempts.delete(id as number);
    });
    channel.handle('guard-uses', async (since) => (await askAll<Array<[string, number]>>(others(worker), 'guard-uses', since)).flatMap((u) => u ?? []));
    channel.handle('guard-claim', async (body) => {
      const to = others(worker);
      const answers = await askAll<boolean>(to, 'guard-claim', body);
      const holding = to.filter((_, i) => answers[i] === true);
      const digest = (body as { digest: string }).digest;
      if (holding.length < to.length) {
        for (const h of holding) h.channel.notice('guard-release', digest);
        return false;
      }
      let held = claims.get(worker);
      if (!held) claims.set(worker, (held = new Map()));
      held.set(digest, holding);
      return true;
    });
    channel.handle('guard-release', (digest) => releaseClaims(worker, digest as string));
    channel.handle('fetch-turn', (key) => {
      const turn = turns.get(key as string);
      if (!turn) {
        turns.set(key as string, { holder: worker, waiting: [] });
        return true;
      }
      return new Promise<boolean>((resolve) => turn.waiting.push(resolve));
    });
    channel.handle('quota-hold', async (hold) => {
      let held = quotaHolds.get(worker);
      if (!held) quotaHolds.set(worker, (held = new Set()));
      held.add((hold as { id: string }).id);
      await askAll(others(worker), 'quota-hold', hold);
    });
    channel.handle('quota-release', (id) => {
      quotaHolds.get(worker)?.delete(id as string);
      for (const m of others(worker)) m.channel.notice('quota-release', id);
    });
    channel.handle('fetch-done', (key) => {
      if (turns.get(key as string)?.holder === worker) endTurn(key as string);
    });
    // Records beside the layout are written by the jobs worker alone (ClusterWorker.recordStore).
    for (const type of ['records-merge', 'records-forget']) {
      channel.handle(type, (body) => {
        const jobs = members.get(0);
        if (!jobs?.ready || jobs.worker === worker) throw new Error('the jobs worker is not running');
        return jobs.channel.call(type, body);
      });
    }
    channel.handle('expiry-touch', (entry) => {
      const jobs = members.get(0);
      if (jobs && jobs.worker !== worker) jobs.channel.notice('expiry-touch', entry);
    });
  };

  const fork = (slot: number, initial: boolean): Promise<void> => {
    const worker = cluster.fork({ ...env, [SLOT_ENV]: String(slot) });
    const m: Member = { slot, worker, channel: new Channel(worker), ready: false, startedAt: Date.now() };
    members.set(slot, m);
    wire(m);
    return new Promise<void>((resolve, reject) => {
      m.channel.handle('ready', () => {
        m.ready = true;
        if (!stopping) dealer.add(worker);
        if (manualDown) m.channel.notice('health-set', true);
        log.info({ slot, workerPid: worker.process.pid }, 'worker ready');
        resolve();
      });
      worker.once('exit', (code, signal) => {
        dealer.remove(worker);
        m.channel.close();
        if (members.get(slot) === m) members.delete(slot);
        for (const [key, turn] of turns) if (turn.holder === worker) endTurn(key);
        releaseClaims(worker);
        claims.delete(worker);
        for (const id of quotaHolds.get(worker) ?? []) for (const o of others(worker)) o.channel.notice('quota-release', id);
        quotaHolds.delete(worker);
        if (!m.ready && initial) {
          reject(new WorkerStartError(slot, code, signal));
          return;
        }
        if (stopping) return;
        const quick = Date.now() - m.startedAt < STEADY_MS;
        const n = quick ? (crashes.get(slot) ?? 0) + 1 : 0;
        crashes.set(slot, n);
        const pause = n === 0 ? 0 : Math.min(1000 * 2 ** (n - 1), 30_000);
        log.error({ slot, workerPid: worker.process.pid, code, signal, restartInMs: pause }, 'worker exited; starting another');
        setTimeout(() => {
          if (!stopping) void fork(slot, false);
        }, pause).unref();
      });
    });
  };

  const killAll = () => {
    for (const m of members.values()) m.worker.process.kill('SIGKILL');
  };
  try {
    await fork(0, true);
    await Promise.all(Array.from({ length: count - 1 }, (_, i) => fork(i + 1, true)));
  } catch (err) {
    stopping = true;
    killAll();
    await dealer.close();
    throw err;
  }

  let debug: { url: string; close(): Promise<void> } | undefined;
  if (config.http.debug) {
    const { startDebugServer } = await import('../api/server.js');
    const ready = () => [...members.values()].filter((m) => m.ready && m.worker.isConnected());
    const health = {
      status: async () => {
        const out: Record<string, string> = {};
        const asked = ready();
        const answers = await askAll<Record<string, string>>(asked, 'health', null);
        // A worker that does not answer is not healthy either.
        answers.forEach((status, i) => Object.assign(out, status ?? { [`worker_${asked[i]!.slot}`]: `no answer within ${ANSWER_MS} ms` }));
        return out;
      },
      down: () => {
        manualDown = true;
        for (const m of ready()) m.channel.notice('health-set', true);
      },
      up: () => {
        manualDown = false;
        for (const m of ready()) m.channel.notice('health-set', false);
      },
    };
    const metrics = config.http.debug.prometheus?.enabled
      ? async () => {
        const { AggregatorRegistry } = await import('prom-client');
        const each = await Promise.all(ready().map((m) => m.channel.call<object[]>('metrics', null, 5000)));
        return AggregatorRegistry.aggregate(each as never).metrics();
      }
      : undefined;
    debug = await startDebugServer(config.http.debug, health, logger, metrics);
  }

  return {
    url,
    debugUrl: debug?.url,
    pids: () => [...members.values()].sort((a, b) => a.slot - b.slot).map((m) => m.worker.process.pid!),
    async stop() {
      stopping = true;
      // No new connections; each worker drains those it has.
      const unbound = dealer.close();
      const list = [...members.values()];
      const exits = list.map(
        (m) => new Promise<boolean>((resolve) => {
          if (m.worker.isDead()) return resolve(m.worker.process.exitCode === 0);
          m.worker.once('exit', (code) => resolve(code === 0));
          m.channel.notice('drain', null);
        }),
      );
      // The jobs worker writes what the others send it until they have gone.
      const jobs = members.get(0);
      void Promise.all(exits.filter((_, i) => list[i] !== jobs)).then(() => jobs?.channel.notice('others-stopped', null));
      const clean = (await Promise.all(exits)).every(Boolean);
      await unbound;
      await debug?.close();
      return clean;
    },
    kill: killAll,
  };
}
