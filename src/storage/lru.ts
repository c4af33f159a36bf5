/**
 * A bounded map with least-recently-used eviction: parsed manifests and small contents by digest
 * (immutable), kept tag lists by repository.
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

  /** The keys, oldest first (a copy: entries may be deleted while going through it). */
  keys(): string[] {
    return [...this.map.keys()];
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
