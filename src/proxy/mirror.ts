import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock.js';
import type { MirrorConfig } from '../config/types.js';
import { tryParseDigest } from '../oci/digest.js';
import type { Registry } from '../storage/registry.js';
import type { Repository, RepositoryMirror } from '../storage/repository.js';
import type { BlobFetch } from './blob-fetch.js';
import { upstreamMetrics } from './metrics.js';
import { MirroredRepository } from './repository.js';
import { ENTRY_MANIFEST, ExpiryScheduler } from './scheduler.js';
import { Upstream } from './upstream.js';

/**
 * The pull-through cache (docs/mirror.md): maps local names to upstreams by prefix, hands the
 * registry a proxying repository for mirrored names, shares in-flight fetches between requests,
 * and expires cached content (scheduler.ts).
 */
/** A turn to fetch a blob or manifest from the upstream (release it once the fetch has ended), or word that another worker fetched it meanwhile. */
export type FetchTurn = { release(): void } | 'fetched-elsewhere';

export interface ExpiryEntry {
  name: string;
  digest: string;
  type: number;
  ttlMs: number;
}

/**
 * The other workers of `berth serve` (src/cluster/worker.ts): a blob or a manifest is fetched from
 * the upstream by one worker at a time, and expiry is kept by the worker that runs the once-only
 * jobs, which the others tell of their pulls.
 */
export interface MirrorPeers {
  /** Resolves when this worker may fetch `key`, or once another worker's fetch of it has ended. */
  fetchTurn(key: string): Promise<FetchTurn>;
  /** A pull made here, for the worker keeping expiry. */
  touch(entry: ExpiryEntry): void;
  /** In the worker keeping expiry: the others' pulls. */
  onTouch(touch: (entry: ExpiryEntry) => void): void;
}

export interface MirrorOptions {
  peers?: MirrorPeers;
  /** Keep and sweep the expiry state here (default true; with workers only in the jobs worker). */
  expiry?: boolean;
}

const ALONE: FetchTurn = { release: () => undefined };

export class Mirror implements RepositoryMirror {
  private readonly routes: { prefix: string; upstream: Upstream }[];
  /** Blob fetches in progress, by `<local name>@<digest>`: concurrent pulls share one. */
  private readonly blobs = new Map<string, Promise<BlobFetch | undefined>>();
  private readonly running = new Map<string, BlobFetch>();
  private readonly pending = new Map<string, Promise<unknown>>();
  readonly scheduler: ExpiryScheduler | undefined;
  /** Every name is mirrored (a default upstream): expired blobs' data is deleted, as Distribution does. */
  readonly everyNameMirrored: boolean;

  constructor(
    config: MirrorConfig,
    private readonly registry: Registry,
    readonly log: Logger,
    clock: Clock = systemClock,
    private readonly options: MirrorOptions = {},
  ) {
    this.routes = config.upstreams.map((u) => ({ prefix: u.prefix, upstream: new Upstream(u, u.prefix || 'default', upstreamMetrics(u.prefix || 'default'), log, clock) }));
    this.everyNameMirrored = config.upstreams.some((u) => u.prefix === '');
    const ttls = config.upstreams.map((u) => u.ttlMs).filter((t) => t > 0);
    if (ttls.length > 0 && options.expiry !== false) {
      // Sweep often enough that content lives at most a quarter of its ttl past expiry (100 ms to 1 min).
      const interval = Math.min(Math.max(Math.min(...ttls) / 4, 100), 60_000);
      this.scheduler = new ExpiryScheduler(registry.driver, (name, digest, type) => this.expire(name, digest, type), log, interval, undefined, clock);
    }
  }

  /** The upstream for a name and the name there (under its remotenamespace); undefined for a local name. */
  route(name: string): { upstream: Upstream; remote: string } | undefined {
    for (const { prefix, upstream } of this.routes) {
      let rest: string | undefined;
      if (prefix === '') rest = name;
      else if (name.length > prefix.length + 1 && name.startsWith(prefix) && name.charCodeAt(prefix.length) === 47 /* "/" */) rest = name.slice(prefix.length + 1);
      if (rest === undefined) continue;
      const namespace = upstream.config.remotenamespace;
      return { upstream, remote: namespace ? `${namespace}/${rest}` : rest };
    }
    return undefined;
  }

  repository(name: string): Repository | undefined {
    const route = this.route(name);
    if (!route) return undefined;
    return new MirroredRepository(this, this.registry.localRepository(name, { mirrorCache: true }), route.upstream, route.remote);
  }

  upstreams(): Upstream[] {
    return this.routes.map((r) => r.upstream);
  }

  /** The fetch of a blob whose bytes are arriving now, if any. */
  runningBlob(key: string): BlobFetch | undefined {
    const fetch = this.running.get(key);
    return fetch && !fetch.failed ? fetch : undefined;
  }

  /** Joins the fetch of `key` in progress or starts one with `start`. */
  blobFetch(key: string, start: () => Promise<BlobFetch | undefined>): Promise<BlobFetch | undefined> {
    const existing = this.blobs.get(key);
    if (existing) return existing;
    const task = start().then(
      (fetch) => {
        if (!fetch) {
          this.blobs.delete(key);
          return undefined;
        }
        const forget = () => {
          if (this.running.get(key) === fetch) this.running.delete(key);
          if (this.blobs.get(key) === task) this.blobs.delete(key);
        };
        this.running.set(key, fetch);
        // A failed fetch is forgotten at once, so that the next request starts a new one.
        fetch.onFailure = forget;
        void fetch.done.catch(() => undefined).finally(forget);
        return fetch;
      },
      (err: unknown) => {
        this.blobs.delete(key);
        throw err;
      },
    );
    this.blobs.set(key, task);
    return task;
  }

  /** Runs `task` once for concurrent callers with the same key (the mirrored repositories' manifest fetches). */
  once<T>(key: string, task: () => Promise<T>): Promise<T> {
    const existing = this.pending.get(key) as Promise<T> | undefined;
    if (existing) return existing;
    const run = task().finally(() => this.pending.delete(key));
    this.pending.set(key, run);
    return run;
  }

  /** Records a pull of cached content: its expiry moves to ttl from now. */
  touch(entry: ExpiryEntry): void {
    if (this.scheduler) this.scheduler.touch(entry.name, entry.digest, entry.type, entry.ttlMs);
    else this.options.peers?.touch(entry);
  }

  /** This worker's turn to fetch `key` from the upstream (always at once without workers). */
  fetchTurn(key: string): Promise<FetchTurn> {
    return this.options.peers?.fetchTurn(key) ?? Promise.resolve(ALONE);
  }

  async start(): Promise<void> {
    await this.scheduler?.start();
    if (this.scheduler) this.options.peers?.onTouch((entry) => this.touch(entry));
    for (const { prefix, upstream } of this.routes) {
      this.log.info({ upstream: upstream.url, prefix: prefix || null, remotenamespace: upstream.config.remotenamespace ?? null, ttl: `${upstream.config.ttlMs / 1000}s` }, 'mirror: pull-through cache enabled');
    }
  }

  async close(): Promise<void> {
    await this.scheduler?.stop();
  }

  /** What expiry removes: a manifest's revision (and tags on it), or a blob's link (and, for a pure mirror, its data). */
  private async expire(name: string, digestText: string, type: number): Promise<void> {
    const digest = tryParseDigest(digestText);
    if (!digest) return;
    const repo = this.registry.localRepository(name, { mirrorCache: true });
    if (type === ENTRY_MANIFEST) {
      await repo.manifests.delete(digest);
    } else {
      if (this.running.has(`${name}@${digestText}`)) return;
      await repo.blobs.unlink(digest);
      // Data shared with another cached repository, or with local repositories, stays
      // (garbage collection reclaims it once nothing links it).
      if (this.everyNameMirrored && !this.scheduler?.holds(digestText, name) && ![...this.running.values()].some((f) => f.digest.value === digestText)) {
        const blobs = this.registry.blobs;
        await blobs.guard.deleting(digest.value, Date.now(), async () => {
          await blobs.delete(digest);
          return true;
        });
      }
    }
    this.log.info({ repository: name, digest: digestText, type: type === ENTRY_MANIFEST ? 'manifest' : 'blob' }, 'mirror: cached content expired');
  }
}
