/**
 * A bounded map with least-recently-used eviction: Distribution's `inmemory` blob descriptor
 * cache, and the cache of parsed manifests (immutable, keyed by digest).
 */
export class LruCache<V> {
  private readonly map = new Map<string, V>();
  private weight = 0;

  /**
   * capacity counts entries, or with `weigh` the sum of weights (e.g. bytes); entries heavier
   * than a tenth of the capacity are not kept.
   */
  constructor(
    private readonly capacity: number,
    private readonly weigh: (value: V) => number = () => 1,
  ) {}

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      // Re-insert so iteration order is recency order.
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    const w = this.weigh(value);
    if (this.capacity <= 0 || (w > 1 && w > this.capacity / 10)) return;
    this.delete(key);
    this.map.set(key, value);
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
    this.weight -= this.weigh(old);
  }

  /** Removes every key with this prefix (e.g. one repository's entries). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.map.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }

  get size(): number {
    return this.map.size;
  }
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
    if (entry === undefined) return undefined;
    if (entry.expires < performance.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    this.entries.set(key, { value, expires: performance.now() + this.ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  deletePrefix(prefix: string): void {
    this.entries.deletePrefix(prefix);
  }

  /** The cached value, or `load()`'s, which is cached when it is not undefined. */
  async through(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const value = await load();
    if (value !== undefined) this.set(key, value);
    return value;
  }
}

/** The registry's one metadata cache; keys are prefixed by kind (b: blob size, l: layer link, r: revision, t: tag, c: catalog). */
export type MetadataCache = TtlCache<string | number | boolean | string[]>;
