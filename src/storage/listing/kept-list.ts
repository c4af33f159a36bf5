export interface KeptListOptions<T> {
  /** Reads the whole listing from storage. */
  load: () => Promise<T>;
  /** How long a load is fresh (at least): berth.metadatattl. 0: every get loads (caching off). */
  ttlMs: number;
  /** How long past fresh it is still answered while a reload runs (at least). 0: never. */
  staleMs: number;
  /** The saved list to answer from while the first load runs, when there is one (object stores). */
  startFrom?: () => Promise<T | undefined>;
}

/** Changes made before anything was kept that are replayed onto the saved list, at most. */
const UNSEEN_LIMIT = 64;

/**
 * A listing (the catalog, a repository's tags) kept in memory.
 *
 * It is fresh for `ttlMs`, or for ten times as long as its last load took when that is longer (a
 * walk of 10,000 repositories on S3 takes seconds; repeating it every second would keep the
 * bucket busy for nothing). For a while after that (`staleMs`, or a hundred load times) it is
 * still answered at once while a reload runs in the background, so a request after a quiet spell
 * does not wait for a walk of the storage; past that, callers wait for the reload. Changes to
 * storage (StorageChanges) are applied to the kept value directly (`update`) and replayed onto a
 * reload that was already running, so a reload never undoes them. On object stores the first
 * load starts from the saved list (`startFrom`, saved-list.ts), possibly out of date, answered
 * while that load runs.
 */
export class KeptList<T> {
  private value: T | undefined;
  private loadedAt = -Infinity;
  private lastLoadMs = 0;
  private loading: Promise<T> | undefined;
  private starting: Promise<T | undefined> | undefined;
  private started = false;
  /** Changes applied while a load runs, replayed onto its result. */
  private pending: Array<(value: T) => T> = [];
  /**
   * Changes made while nothing was kept yet, replayed onto the saved list, which may predate them
   * (another instance saved it before this one tagged, or heard of a tag). More than UNSEEN_LIMIT
   * and the saved list is not used: the first get then waits for a load.
   */
  private unseen: Array<(value: T) => T> | undefined;

  private readonly load: () => Promise<T>;
  private readonly ttlMs: number;
  private readonly staleMs: number;
  private readonly startFrom: (() => Promise<T | undefined>) | undefined;

  constructor(options: KeptListOptions<T>) {
    ({ load: this.load, ttlMs: this.ttlMs, staleMs: this.staleMs, startFrom: this.startFrom } = options);
    if (this.startFrom && this.staleMs > 0) this.unseen = [];
  }

  async get(): Promise<T> {
    if (this.value === undefined && this.startPending()) await this.readStart();
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

  /** Reads the saved list ahead of the first get (at start-up); a no-op without one or with caching off. */
  async prefetch(): Promise<void> {
    if (this.startPending()) await this.readStart();
  }

  /** A saved list exists, is used (caching on), and has not been read yet. */
  private startPending(): boolean {
    return this.startFrom !== undefined && this.staleMs > 0 && !this.started;
  }

  private readStart(): Promise<T | undefined> {
    this.starting ??= (async () => {
      const start = await this.startFrom!().catch(() => undefined);
      this.started = true;
      const unseen = this.unseen;
      this.unseen = undefined;
      if (start !== undefined && unseen && this.value === undefined) {
        this.value = unseen.reduce<T>((v, change) => change(v), start);
        // Out of date from the start: answered while the first load runs.
        this.loadedAt = performance.now() - this.freshMs();
      }
      return start;
    })();
    return this.starting;
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
