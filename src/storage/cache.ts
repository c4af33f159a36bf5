/**
 * A bounded map with least-recently-used eviction: Distribution's `inmemory` blob descriptor
 * cache, and the cache of parsed manifests (immutable, keyed by digest).
 */
export class LruCache<V> {
  private readonly map = new Map<string, Entry<V>>();
  private weight = 0;
  /** Counts insertions and moves to the young end, so an entry knows how far it has aged. */
  private clock = 0;

  /**
   * capacity counts entries, or with `weigh` the sum of weights (e.g. bytes); entries heavier
   * than a tenth of the capacity are not kept.
   */
  constructor(
    private readonly capacity: number,
    private readonly weigh: (value: V) => number = () => 1,
  ) {}

  get(key: string): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    // Iteration order is recency order. Moving an entry (delete + set) on every hit cost ~4% of
    // a manifest GET; an entry moved within the last quarter of the cache's turnover is still
    // far from the old end, so it is left in place.
    if (this.clock - entry.moved > this.map.size / 4) {
      this.map.delete(key);
      this.map.set(key, entry);
      entry.moved = ++this.clock;
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    const w = this.weigh(value);
    if (this.capacity <= 0 || (w > 1 && w > this.capacity / 10)) return;
    this.delete(key);
    this.map.set(key, { value, moved: ++this.clock });
    this.weight += w;
    while (this.weight > this.capacity) {
      const oldest = this.map.keys().next().value as string;
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.map.delete(key);
    this.weight -= this.weigh(old.value);
  }

  /** Removes every key with this prefix (e.g. one repository's entries). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.map.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
    this.weight = 0;
  }
}

interface Entry<V> {
  value: V;
  moved: number;
}

/**
 * Small metadata (tag targets, link presence, blob sizes) read on every pull, kept for a short
 * time. This process's own writes update or drop entries at once; a change made by another
 * process sharing the storage is seen after at most `ttlMs`. A ttl of 0 disables caching.
 */
export class TtlCache<V> {
  private readonly entries: LruCache<{ value: V; expires: number }>;

  constructor(
    private readonly ttlMs: number,
    capacity = 50_000,
  ) {
    this.entries = new LruCache(ttlMs > 0 ? capacity : 0);
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expires >= performance.now()) return entry.value;
    if (entry !== undefined) this.entries.delete(key);
    this.noteMiss(key);
    return undefined;
  }

  set(key: string, value: V): void {
    // A value loaded after a miss that happened before the last clear() may predate the change
    // that caused the clear (another instance's write): it is not kept.
    const missedAt = this.misses.get(key);
    this.misses.delete(key);
    this.loading.delete(key);
    if (missedAt !== undefined && missedAt !== this.generation) return;
    this.entries.set(key, { value, expires: performance.now() + this.ttlMs });
  }

  /**
   * Drops every entry: another process changed the storage (src/redis/invalidation.ts). Loads
   * already under way when this is called do not fill the cache with what they read.
   */
  clear(): void {
    this.generation++;
    this.entries.clear();
    this.loading.clear();
  }

  private generation = 0;
  /** The generation at a key's first miss not yet followed by a set (bounded; reset when full). */
  private readonly misses = new Map<string, number>();

  private noteMiss(key: string): void {
    if (this.ttlMs <= 0 || this.misses.has(key)) return;
    if (this.misses.size >= 10_000) this.misses.clear();
    this.misses.set(key, this.generation);
  }

  delete(key: string): void {
    this.entries.delete(key);
    this.loading.delete(key);
  }

  /** Drops every entry whose key starts with `prefix`; as delete, loads of such keys under way are not kept. */
  deletePrefix(prefix: string): void {
    this.entries.deletePrefix(prefix);
    for (const key of [...this.loading.keys()]) if (key.startsWith(prefix)) this.loading.delete(key);
  }

  /** Loads in progress, by key: when an entry expires under load, one read serves every request waiting for it. */
  private readonly loading = new Map<string, Promise<V | undefined>>();

  /**
   * The cached value, or `load()`'s, which is cached when it is not undefined. Concurrent misses
   * of one key share one load; a local set or delete meanwhile keeps that load from being cached.
   */
  through(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const hit = this.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    const pending = this.loading.get(key);
    if (pending) return pending;
    const loaded: Promise<V | undefined> = load().then(
      (value) => {
        if (this.loading.get(key) === loaded) {
          this.loading.delete(key);
          if (value !== undefined) this.set(key, value);
        }
        return value;
      },
      (err: unknown) => {
        if (this.loading.get(key) === loaded) this.loading.delete(key);
        throw err;
      },
    );
    if (this.ttlMs > 0) this.loading.set(key, loaded);
    return loaded;
  }
}

/**
 * A blob descriptor cache shared by every instance (Distribution's `storage.cache.blobdescriptor:
 * redis`, src/redis/descriptors.ts): blob sizes globally, and which repositories link which
 * blobs. Implementations never throw: a failing cache answers "unknown" and storage is read.
 */
export interface SharedBlobDescriptors {
  size(digest: string): Promise<number | undefined>;
  setSize(digest: string, size: number): Promise<void>;
  forget(digest: string): Promise<void>;
  linked(repository: string, digest: string): Promise<boolean>;
  setLinked(repository: string, digest: string): Promise<void>;
  unlink(repository: string, digest: string): Promise<void>;
  forgetRepository(repository: string): Promise<void>;
}

/** The registry's one metadata cache; keys are prefixed by kind (b: blob size, l: layer link, r: revision, t: tag, c: catalog). */
export type MetadataCache = TtlCache<string | number | boolean | string[]>;

/**
 * A listing (the catalog, a repository's tags) kept in memory.
 *
 * It is fresh for `ttlMs`, or for ten times as long as its last load took when that is longer (a
 * walk of 10,000 repositories on S3 takes seconds; repeating it every second would keep the
 * bucket busy for nothing). For a while after that (`staleMs`, or a hundred load times) it is
 * still answered at once while a reload runs in the background, so a request after a quiet spell
 * does not wait for a walk of the storage; past that, callers wait for the reload. Changes this
 * process makes, or hears about from other instances, are applied to the kept value directly
 * (`update`) and replayed onto a reload that was already running, so a reload never undoes them.
 * `seed` (optional) gives a starting value, possibly out of date, to answer while the first load
 * runs: the persisted catalog of object stores (Registry).
 */
const UNSEEN_LIMIT = 64;

export class RefreshingValue<T> {
  private value: T | undefined;
  private loadedAt = -Infinity;
  private lastLoadMs = 0;
  private loading: Promise<T> | undefined;
  private seeding: Promise<T | undefined> | undefined;
  private seeded = false;
  /** Changes applied while a load runs, replayed onto its result. */
  private pending: Array<(value: T) => T> = [];
  /**
   * Changes made while nothing was kept yet, replayed onto the seed, which may predate them (a
   * saved list another instance wrote before this one tagged, or heard of a tag). More than
   * UNSEEN_LIMIT and the seed is not used: the first get then waits for a load.
   */
  private unseen: Array<(value: T) => T> | undefined;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly staleMs: number,
    private readonly seed?: () => Promise<T | undefined>,
  ) {
    if (seed && staleMs > 0) this.unseen = [];
  }

  async get(): Promise<T> {
    if (this.value === undefined && this.seedPending()) await this.seedOnce();
    if (this.value !== undefined) {
      const age = performance.now() - this.loadedAt;
      if (age < this.freshMs()) return this.value;
      if (age < this.freshMs() + this.staleWindowMs()) {
        // After the current request has been answered: the reload's reads and sorting would
        // otherwise run between this answer's lookup and its write (2-4 ms for 2,000 tags).
        if (!this.loading) setImmediate(() => this.reload().catch(() => undefined));
        return this.value;
      }
    }
    return this.reload();
  }

  private freshMs(): number {
    return this.ttlMs > 0 ? Math.max(this.ttlMs, 10 * this.lastLoadMs) : 0;
  }

  private staleWindowMs(): number {
    return this.staleMs > 0 ? Math.max(this.staleMs, 100 * this.lastLoadMs) : 0;
  }

  /** The kept value, fresh or not, without loading anything. */
  peek(): T | undefined {
    return this.value;
  }

  /** Reads the seed ahead of the first get (at start-up); a no-op without one or with caching off. */
  async prefetch(): Promise<void> {
    if (this.seedPending()) await this.seedOnce();
  }

  /** A seed exists, is used (caching on), and has not been read yet. */
  private seedPending(): boolean {
    return this.seed !== undefined && this.staleMs > 0 && !this.seeded;
  }

  private seedOnce(): Promise<T | undefined> {
    this.seeding ??= (async () => {
      const start = await this.seed!().catch(() => undefined);
      this.seeded = true;
      const unseen = this.unseen;
      this.unseen = undefined;
      if (start !== undefined && unseen && this.value === undefined) {
        this.value = unseen.reduce<T>((v, change) => change(v), start);
        // Out of date from the start: answered while the first load runs.
        this.loadedAt = performance.now() - this.freshMs();
      }
      return start;
    })();
    return this.seeding;
  }

  /** Applies a change made to storage (by this process or another instance). */
  update(change: (value: T) => T): void {
    if (this.value !== undefined) this.value = change(this.value);
    else if (this.unseen) {
      this.unseen.push(change);
      if (this.unseen.length > UNSEEN_LIMIT) this.unseen = undefined;
    }
    if (this.loading) this.pending.push(change);
  }

  /** The kept value may have missed changes: it is answered once more while a reload runs. */
  expire(): void {
    if (this.value !== undefined) this.loadedAt = performance.now() - this.freshMs();
  }

  private reload(): Promise<T> {
    if (!this.loading) {
      const started = performance.now();
      this.pending = [];
      this.loading = this.load()
        .then((loaded) => {
          const fresh = this.pending.reduce<T>((v, change) => change(v), loaded);
          this.value = fresh;
          this.loadedAt = started;
          this.lastLoadMs = performance.now() - started;
          return fresh;
        })
        .finally(() => {
          this.loading = undefined;
          this.pending = [];
        });
    }
    return this.loading;
  }
}

/** A page of a sorted listing: the first `count` names after `after` ('' for the start). */
export interface PageNeed {
  after: string;
  count: number;
}

/**
 * Page requests for a listing that is being loaded, answered as soon as the load has certainly
 * seen the whole page (`progress`) rather than when it ends: a page of the catalog or of a tag
 * list from the first pages of a long object-store listing. The answer is a sorted list that is
 * complete up to the page's last name, not beyond.
 */
export class EarlyPages {
  private readonly waiting = new Set<Waiter>();
  /** What the load that is running has shown so far, for requests that come in between its pages. */
  private shown: { found: readonly string[]; sorted?: string[]; seenUpTo: (name: string) => boolean } | undefined;

  /** The page from `complete` (the whole listing) or from `progress`, whichever comes first. */
  wait(complete: Promise<string[]>, need: PageNeed): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const waiter = { need, resolve };
      this.waiting.add(waiter);
      complete.then(resolve, reject).finally(() => this.waiting.delete(waiter));
      if (this.shown) this.answer(waiter, this.shown);
    });
  }

  /** A load starts or ends: what it showed no longer counts (the kept listing answers then). */
  clear(): void {
    this.shown = undefined;
  }

  /**
   * The running load has found `found` (in any order) and has seen every name sorting at or
   * before `name` when `seenUpTo(name)`.
   */
  progress(found: readonly string[], seenUpTo: (name: string) => boolean): void {
    this.shown = { found: [...found], seenUpTo };
    for (const waiter of this.waiting) this.answer(waiter, this.shown);
  }

  private answer(waiter: Waiter, shown: NonNullable<EarlyPages['shown']>): void {
    shown.sorted ??= [...shown.found].sort(compareBytes);
    const end = pageEnd(shown.sorted, waiter.need);
    if (end !== undefined && shown.seenUpTo(end)) {
      this.waiting.delete(waiter);
      waiter.resolve(shown.sorted);
    }
  }
}

interface Waiter {
  need: PageNeed;
  resolve: (names: string[]) => void;
}

/** The last name of the page `need` in a sorted list; undefined when the list does not reach it. */
export function pageEnd(sorted: readonly string[], need: PageNeed): string | undefined {
  let start = sortedIndex(sorted, need.after);
  if (sorted[start] === need.after) start++;
  return sorted[start + need.count - 1];
}

/**
 * The position past which a listing in key order has shown every name sorting at or before
 * `name`, where each name's keys all sort at or before the name followed by `suffix`. Key order
 * is not name order: `a-b/…` sorts before `a/…` while the name `a` sorts before `a-b`. A name
 * sorting before `name` either differs from it at some position by a smaller character, so all
 * its keys sort before `name`'s own, or is a prefix of it, bounded by prefix + suffix; the largest
 * of those bounds is the one.
 */
export function keyOrderBound(name: string, suffix: string): string {
  let bound = name + suffix;
  for (let end = 1; end < name.length; end++) {
    const candidate = name.slice(0, end) + suffix;
    if (candidate > bound) bound = candidate;
  }
  return bound;
}

/** Byte order of names (the spec's lexical order; S3's key order for ASCII). */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Where `name` is or would go in a sorted list of names (byte order). */
export function sortedIndex(sorted: readonly string[], name: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts into / removes from a sorted list of names (byte order), returning a new list. */
export function withName(sorted: readonly string[], name: string): string[] {
  const lo = sortedIndex(sorted, name);
  if (sorted[lo] === name) return sorted as string[];
  return [...sorted.slice(0, lo), name, ...sorted.slice(lo)];
}

export function withoutName(sorted: readonly string[], name: string): string[] {
  const i = sorted.indexOf(name);
  return i === -1 ? (sorted as string[]) : [...sorted.slice(0, i), ...sorted.slice(i + 1)];
}
