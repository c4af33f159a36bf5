import cluster from 'node:cluster';
import net from 'node:net';
import { limitedError, type LoginLimits } from '../auth/ratelimit.js';
import type { HealthChecks } from '../health/registry.js';
import type { RecordDelta, RecordStore } from '../policy/records/store.js';
import type { PeerHold, QuotaPeers } from '../policy/usage.js';
import type { FetchTurn, MirrorPeers } from '../proxy/mirror.js';
import type { BlobGuard, GuardPeers } from '../storage/blob-guard.js';
import type { StorageChange } from '../storage/changes.js';
import { acrossProcesses, type TagLocks } from '../storage/tag-locks.js';
import { CONNECTION_MESSAGE } from './dealer.js';
import { Channel, type Port } from './ipc.js';

/** Set by the primary in each worker's environment: its slot (0 runs the once-only jobs). */
export const SLOT_ENV = 'BERTH_WORKER_SLOT';
/** Set by the primary in each worker's environment: the URL of the address it has bound. */
export const URL_ENV = 'BERTH_WORKER_URL';
/** How long a worker gathers the closes of its connections before it reports them to the primary. */
const CLOSES_REPORT_MS = 10;

/** How long a worker waits for the others to have applied its change before answering anyway. */
const CHANGE_WAIT_MS = 2000;
/** How long a batch of records may take to be written by the jobs worker before it is kept for the next. */
const RECORDS_WAIT_MS = 30_000;

/**
 * This process as one of `berth serve`'s workers (src/cluster/primary.ts): what it tells the
 * primary and what the primary asks of it. Everything kept per process is kept right through
 * here: its writes go to the others as the same put/delete messages Redis carries, their writes
 * come back to StorageChanges.apply; login failures are counted by the primary; the garbage
 * collector's guard and the mirror's fetches and expiry ask the other workers through it.
 */
export class ClusterWorker {
  private readonly channel: Channel;
  /** Slot 0 runs garbage collection, upload purging and the mirror's expiry. */
  readonly jobs: boolean;
  private readonly othersDone: Promise<void>;

  constructor(port: Port = process as unknown as Port, slot = Number(process.env[SLOT_ENV] ?? 0)) {
    this.channel = new Channel(port);
    this.jobs = slot === 0;
    let done!: () => void;
    this.othersDone = new Promise<void>((resolve) => (done = resolve));
    this.channel.handle('others-stopped', done);
    process.once('disconnect', () => {
      this.channel.close();
      done();
    });
  }

  /** Whether this process is a worker of `berth serve` (and not a child some test started with IPC). */
  static current(): ClusterWorker | undefined {
    return cluster.isWorker && process.env[SLOT_ENV] !== undefined ? new ClusterWorker() : undefined;
  }

  /**
   * Tells every other worker of this process's writes, and resolves once they have applied them
   * (or after CHANGE_WAIT_MS), so that a client answered here and asking another worker next is
   * answered from what storage holds now.
   */
  async announce(changes: StorageChange[]): Promise<void> {
    await this.channel.call('changes', changes, CHANGE_WAIT_MS).catch(() => undefined);
  }

  /** Other workers' writes, as they are announced. */
  subscribe(apply: (changes: StorageChange[]) => void): void {
    this.channel.handle('changes', (changes) => apply(changes as StorageChange[]));
  }

  /**
   * Serves on `server` the connections the primary hands this worker (src/cluster/dealer.ts), as
   * if it had accepted them itself, until the server is closed; returns the primary's URL. The
   * worker reports the connections that closed, so that the primary gives the next to the worker
   * with the fewest. http.maxconnections holds per worker, as it does for a process that listens.
   */
  takeConnections(server: net.Server): string {
    let open = 0;
    let closes = 0;
    let report: NodeJS.Timeout | undefined;
    let taking = true;
    const onClose = () => {
      open--;
      closes++;
      report ??= setTimeout(() => {
        report = undefined;
        this.channel.notice('connections-closed', closes);
        closes = 0;
      }, CLOSES_REPORT_MS);
    };
    process.on('message', (message: unknown, handle: unknown) => {
      if (message !== CONNECTION_MESSAGE || !(handle instanceof net.Socket)) return;
      open++;
      handle.once('close', onClose);
      if (!taking || (server.maxConnections > 0 && open > server.maxConnections)) handle.destroy();
      else {
        // What Node's servers do with a connection they accept (HTTP servers ask for no delay).
        handle.setNoDelay(true);
        server.emit('connection', handle);
      }
    });
    server.once('close', () => (taking = false));
    // What a server does once listening (Node's HTTP servers start checking their connections' timeouts).
    server.emit('listening');
    return process.env[URL_ENV] ?? '';
  }

  /** Asks the primary to hand this worker connections; `onDrain` when it is told to stop. */
  ready(onDrain: () => void): void {
    this.channel.handle('drain', onDrain);
    this.channel.notice('ready', null);
  }

  /** In the jobs worker, while stopping: resolves once every other worker has exited (at once in the others). */
  othersStopped(): Promise<void> {
    return this.jobs ? this.othersDone : Promise.resolve();
  }

  /** /debug/health of the whole is this worker's status merged with the others' (the primary asks). */
  serveHealth(health: HealthChecks): void {
    this.channel.handle('health', () => health.status());
    this.channel.handle('health-set', (down) => (down ? health.down() : health.up()));
  }

  /** The primary's /metrics sums every worker's registry (prom-client's cluster aggregation). */
  serveMetrics(collect: () => Promise<unknown>): void {
    this.channel.handle('metrics', collect);
  }

  /** Failed logins counted in the primary, so that the limit holds whichever worker a guess reaches. */
  loginLimits(max: number, windowMs: number): LoginLimits {
    const settings = { max, windowMs };
    const refuse = (answer: { retryAfter?: number }) => {
      if (answer.retryAfter !== undefined) throw limitedError(answer.retryAfter);
    };
    return {
      enabled: max > 0,
      check: async (keys) => refuse(await this.channel.call('limit-check', { ...settings, keys })),
      reserve: async (keys) => {
        const answer = await this.channel.call<{ retryAfter?: number; id?: number }>('limit-reserve', { ...settings, keys });
        refuse(answer);
        let released = false;
        return {
          release: () => {
            if (released) return;
            released = true;
            this.channel.notice('limit-release', answer.id);
          },
        };
      },
    };
  }

  /** The garbage collector's guard, across workers: uses recorded anywhere keep a digest, and a deletion holds it everywhere. */
  guardPeers(guard: BlobGuard): GuardPeers {
    this.channel.handle('guard-uses', (since) => guard.usesSince(since as number));
    this.channel.handle('guard-claim', (body) => {
      const { digest, since } = body as { digest: string; since: number };
      return guard.claimForPeer(digest, since);
    });
    this.channel.handle('guard-release', (digest) => guard.releaseForPeer(digest as string));
    return {
      uses: (since) => this.channel.call<Array<[string, number]>>('guard-uses', since),
      claim: (digest, since) => this.channel.call<boolean>('guard-claim', { digest, since }),
      release: (digest) => this.channel.notice('guard-release', digest),
    };
  }

  /**
   * Pull and push records beside the layout (without Redis): written by the jobs worker alone,
   * one repository's read-modify-write at a time, so that two workers' batches cannot overwrite
   * each other; the others send it their batches (a batch that cannot be sent stays for the next).
   */
  recordStore(local: RecordStore): RecordStore {
    if (this.jobs) {
      const one = oneAtATime(local);
      this.channel.handle('records-merge', (body) => {
        const { name, deltas } = body as { name: string; deltas: Array<[string, RecordDelta]> };
        return one.merge(name, new Map(deltas));
      });
      this.channel.handle('records-forget', (body) => {
        const { name, digests } = body as { name: string; digests?: string[] };
        return one.forget(name, digests);
      });
      return one;
    }
    return {
      read: (name) => local.read(name),
      merge: async (name, deltas) => void (await this.channel.call('records-merge', { name, deltas: [...deltas] }, RECORDS_WAIT_MS)),
      forget: async (name, digests) => void (await this.channel.call('records-forget', { name, digests }, RECORDS_WAIT_MS)),
    };
  }

  /**
   * Tag locks across workers (src/storage/tag-locks.ts), on the primary's turns the mirror uses: a
   * turn asked while another worker holds it is answered false once that one ends, and asked again.
   */
  tagLocks(): TagLocks {
    return acrossProcesses((name, tag) => this.turn(`tag\0${name}\0${tag}`));
  }

  /** Waits for the primary's turn `key` (asked again whenever another worker's turn ends) and holds it until released. */
  private async turn(key: string): Promise<{ release(): void }> {
    for (;;) if (await this.channel.call<boolean>('fetch-turn', key)) return { release: () => this.channel.notice('fetch-done', key) };
  }

  /**
   * Quota checks across workers (src/policy/usage.ts): one check at a time on the primary's turns,
   * and each push that passed is counted by every worker (`quota-hold`) until its link is.
   */
  quotaPeers(usage: { peerHeld(hold: PeerHold): void; peerReleased(id: string): void }): QuotaPeers {
    this.channel.handle('quota-hold', (hold) => usage.peerHeld(hold as PeerHold));
    this.channel.handle('quota-release', (id) => usage.peerReleased(id as string));
    return {
      turn: () => this.turn('quota'),
      hold: async (hold) => void (await this.channel.call('quota-hold', hold)),
      release: (id) => this.channel.notice('quota-release', id),
    };
  }

  /** The mirror's one upstream fetch per blob across workers, and its expiry kept by the jobs worker. */
  mirrorPeers(): MirrorPeers {
    return {
      fetchTurn: async (key): Promise<FetchTurn> => {
        const granted = await this.channel.call<boolean>('fetch-turn', key);
        return granted ? { release: () => this.channel.notice('fetch-done', key) } : 'fetched-elsewhere';
      },
      touch: (entry) => this.channel.notice('expiry-touch', entry),
      onTouch: (touch) => this.channel.handle('expiry-touch', (entry) => touch(entry as Parameters<typeof touch>[0])),
    };
  }
}

/** `store` with one write at a time per repository (reads as they come). */
function oneAtATime(store: RecordStore): RecordStore {
  const last = new Map<string, Promise<void>>();
  const queue = (name: string, write: () => Promise<void>): Promise<void> => {
    const run = (last.get(name) ?? Promise.resolve()).catch(() => undefined).then(write);
    last.set(name, run);
    void run.catch(() => undefined).finally(() => {
      if (last.get(name) === run) last.delete(name);
    });
    return run;
  };
  return {
    read: (name) => store.read(name),
    merge: (name, deltas) => queue(name, () => store.merge(name, deltas)),
    forget: (name, digests) => queue(name, () => store.forget(name, digests)),
  };
}
