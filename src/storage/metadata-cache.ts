import type { Digest } from '../oci/digest.js';
import { LruCache } from './lru.js';

/**
 * Small metadata (tag targets, link presence, blob sizes) read on every pull, kept for a short
 * time. Writes drop what they change (StorageChanges, src/storage/changes.ts) and the stores keep
 * what they wrote; a change made by another process sharing the storage, unannounced, is seen
 * after at most `ttlMs`. A ttl of 0 disables caching.
 *
 * An entry past its ttl is kept `staleMs` longer for `peek`, which listings use (the UI's tag
 * pages): they answer what was read a little earlier and read it again behind the answer, as the
 * kept listings do (KeptList). A change drops stale entries as it drops fresh ones.
 */
export class TtlCache<V> {
  private readonly entries: LruCache<{ value: V; expires: number }>;

  constructor(
    private readonly ttlMs: number,
    capacity = 50_000,
    private readonly staleMs = 0,
  ) {
    this.entries = new LruCache(ttlMs > 0 ? capacity : 0);
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    const now = performance.now();
    if (entry !== undefined && entry.expires >= now) return entry.value;
    if (entry !== undefined && entry.expires + this.staleMs < now) this.entries.delete(key);
    this.noteMiss(key);
    return undefined;
  }

  /** What is kept under `key`, fresh (within the ttl) or stale (up to `staleMs` past it); reads nothing, loads nothing. */
  peek(key: string): { value: V; fresh: boolean } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const now = performance.now();
    if (entry.expires >= now) return { value: entry.value, fresh: true };
    return entry.expires + this.staleMs >= now ? { value: entry.value, fresh: false } : undefined;
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
          // Gone from storage: a stale entry must not be answered any more.
          if (value !== undefined) this.set(key, value);
          else this.entries.delete(key);
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

declare const holds: unique symbol;
declare const starts: unique symbol;

/** A key of the metadata cache and, as its type, what is kept under it. Built only by `metadataKeys`. */
export type MetadataKey<V> = string & { readonly [holds]: V };

/** The start of every key about one thing (one repository's tags, …), for `deletePrefix`. */
export type MetadataPrefix = string & { readonly [starts]: true };

/**
 * The registry's one metadata cache (a TtlCache): its keys are `MetadataKey`s, so what a store
 * reads back has the type the store wrote.
 */
export class MetadataCache {
  private readonly cache: TtlCache<unknown>;

  /** `staleMs`: how long past the ttl `peek` still answers an entry (TtlCache). */
  constructor(ttlMs: number, staleMs = 0) {
    this.cache = new TtlCache(ttlMs, undefined, staleMs);
  }

  get<V>(key: MetadataKey<V>): V | undefined {
    return this.cache.get(key) as V | undefined;
  }

  peek<V>(key: MetadataKey<V>): { value: V; fresh: boolean } | undefined {
    return this.cache.peek(key) as { value: V; fresh: boolean } | undefined;
  }

  set<V>(key: MetadataKey<V>, value: V): void {
    this.cache.set(key, value);
  }

  through<V>(key: MetadataKey<V>, load: () => Promise<V | undefined>): Promise<V | undefined> {
    return this.cache.through(key, load) as Promise<V | undefined>;
  }

  delete(key: MetadataKey<unknown>): void {
    this.cache.delete(key);
  }

  deletePrefix(prefix: MetadataPrefix): void {
    this.cache.deletePrefix(prefix);
  }

  /** See TtlCache.clear. */
  clear(): void {
    this.cache.clear();
  }
}

const key = <V>(text: string) => text as MetadataKey<V>;
const prefix = (text: string) => text as MetadataPrefix;

/**
 * The metadata cache's keys, built only here: a kind, then the repository and what in it. A
 * repository's own keys (not a nested repository's) all start with one of `repositoryPrefixes`.
 */
export const metadataKeys = {
  /** A blob's size (global). */
  blobSize: (digest: Digest | string) => key<number>(`b:${digestText(digest)}`),
  /** A blob is linked into the repository (`_layers`). */
  layerLink: (name: string, digest: Digest | string) => key<true>(`l:${name}@${digestText(digest)}`),
  /** A manifest revision is present in the repository. */
  revision: (name: string, digest: Digest | string) => key<true>(`r:${name}@${digestText(digest)}`),
  /** The digest a tag points at ("sha256:…"). */
  tag: (name: string, tag: string) => key<string>(`t:${name}:${tag}`),
  /** Every tag of the repository. */
  tags: (name: string) => prefix(`t:${name}:`),
  revisions: (name: string) => prefix(`r:${name}@`),
  layerLinks: (name: string) => prefix(`l:${name}@`),
  /** Every key about the repository `name`. */
  repositoryPrefixes: (name: string) => [`l:${name}@`, `r:${name}@`, `t:${name}:`].map(prefix),
  /** Every key about repositories nested below `name` ("name/…"). */
  nestedPrefixes: (name: string) => [`l:${name}/`, `r:${name}/`, `t:${name}/`].map(prefix),
};

/** A digest as the keys hold it ("sha256:…"; the layout's paths give it as text). */
function digestText(digest: Digest | string): string {
  return typeof digest === 'string' ? digest : digest.value;
}
