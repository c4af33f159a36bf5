import type { StorageDriver } from './driver/types.js';
import { BlobStore } from './blobs.js';
import { StorageChanges, announcedWhere, reportingDriver, type StorageChange } from './changes.js';
import { Listings } from './listing/listings.js';
import type { PageNeed } from './listing/sorted.js';
import { LocalRepository, type LocalRepositoryOptions, type RegistryParts } from './local-repository.js';
import { LruCache } from './lru.js';
import type { CachedInfo, ManifestPolicy } from './manifests/store.js';
import { MetadataCache } from './metadata-cache.js';
import { storageModes, type StorageModes } from './modes.js';
import type { Repository, RepositoryMirror } from './repository.js';
import { noRules, type ActivityRecords, type StorageRules } from './rules.js';
import { LocalTagLocks, type TagLocks } from './tag-locks.js';
import { UploadSessions } from './uploads.js';

export interface RegistryOptions {
  policy: ManifestPolicy;
  /** berth.metadatattl: how long metadata read from storage is trusted (see StorageModes); 0 turns caching off. */
  metadataTtlMs: number;
  /**
   * Tells other processes about this process's writes (those reported: reportingDriver), through
   * Redis (src/redis/invalidation.ts) or a cluster's primary, after each write and before its
   * caller goes on; they apply them with StorageChanges.
   */
  announce?: (changes: StorageChange[]) => Promise<void>;
  /** Whether quota usage counts links here and in the other processes (default true): layer links written are announced only then (changes.ts, announcedWhere). */
  quotas?: boolean;
}

/**
 * The storage services of one registry, built on one driver: what every repository shares
 * (blobs, upload sessions, caches, listings), and a repository's stores for a name.
 */
export class Registry implements RegistryParts {
  /** The driver every store writes through: each write is applied to what this process keeps (`changes`) and announced. */
  readonly driver: StorageDriver;
  readonly modes: StorageModes;
  readonly meta: MetadataCache;
  readonly blobs: BlobStore;
  readonly sessions = new UploadSessions();
  /** Parsed manifests by digest (immutable). */
  readonly manifestInfo = new LruCache<CachedInfo>(10_000);
  readonly listings: Listings;
  /** Where every change to storage, this process's or another's, reaches the metadata cache and the kept listings. */
  readonly changes: StorageChanges;
  readonly policy: ManifestPolicy;
  /** Chooses pull-through repositories for mirrored names (src/proxy); set once at start-up. */
  mirror: RepositoryMirror | undefined;
  /** Immutable tags and quotas (src/policy), asked before each write they may refuse; set once at start-up. */
  rules: StorageRules = noRules;
  /** One writer at a time for the tags `rules` serializes: this process's queue, or shared by the workers or through Redis; set once at start-up. */
  tagLocks: TagLocks = new LocalTagLocks();
  /** Pull and push records (src/policy/records), when kept; set once at start-up. */
  records: ActivityRecords | undefined;

  constructor(driver: StorageDriver, options: RegistryOptions) {
    this.modes = storageModes(driver, options.metadataTtlMs);
    this.policy = options.policy;
    this.meta = new MetadataCache(this.modes.ttlMs, this.modes.staleListingMs);
    const { announce } = options;
    const announced = announcedWhere(options.quotas ?? true);
    this.driver = reportingDriver(driver, async (changes) => {
      this.changes.apply(changes, 'local');
      if (!announce) return;
      const told = changes.filter(announced);
      if (told.length > 0) await announce(told);
    });
    this.listings = new Listings(this.driver, this.modes);
    this.changes = new StorageChanges(this.meta, this.listings);
    this.blobs = new BlobStore(this.driver, this.meta);
  }

  /** At start-up, on object stores: the first listings and the store's client warmed (Listings.warmUp). */
  warmUp(firstCatalogPage: number): Promise<void> {
    return this.listings.warmUp(firstCatalogPage);
  }

  /** A repository's stores, proxied for a mirrored name. The name must already be validated (oci/names.ts). */
  repository(name: string): Repository {
    return this.mirror?.repository(name) ?? new LocalRepository(this, name);
  }

  /** The stores as they are in storage, never proxied. */
  localRepository(name: string, options?: LocalRepositoryOptions): LocalRepository {
    return new LocalRepository(this, name, options);
  }

  /** Every repository holding manifests, sorted; with `need`, possibly complete only up to that page (Catalog.list). */
  catalog(need?: PageNeed): Promise<string[]> {
    return this.listings.catalog.list(need);
  }

  /** A repository was deleted (LocalRepository.delete): what is kept about it beside storage goes too. */
  async repositoryRemoved(name: string): Promise<void> {
    await this.blobs.shared?.forgetRepository(name);
    await this.listings.repositoryRemoved(name);
    await this.records?.forgetRepository(name);
  }
}
