import type { Digest } from '../digest.js';
import type { StorageDriver } from './driver/types.js';
import { BlobStore } from './blobs.js';
import { isPathNotFound } from './driver/errors.js';
import { LruCache, RefreshingValue, TtlCache, withName, withoutName, type MetadataCache } from './cache.js';
import { LinkedBlobStore } from './linked-blobs.js';
import { ManifestStore, type CachedInfo, type ManifestPolicy } from './manifests/store.js';
import type { Descriptor } from './manifests/types.js';
import { REPOSITORIES_ROOT, layersDir, manifestsDir, repositoryPath, uploadsDir } from './paths.js';
import { deleteIfExists, listNames } from './links.js';
import { TagStore, compareBytes } from './tags.js';
import { UploadSessions, UploadStore } from './uploads.js';

/**
 * How long a kept listing (catalog, tag list) past its ttl is still answered while it is read
 * again in the background. Changes made through this process are in it at once; another
 * process's changes show up once a reload they trigger has finished.
 */
const STALE_LISTING_MS = 30_000;

export interface RegistryOptions {
  policy: ManifestPolicy;
  /** How long metadata read from storage is trusted (see TtlCache); 0 reads storage every time. */
  metadataTtlMs: number;
}

/** The storage services of one registry, built on one driver. */
export class Registry {
  readonly blobs: BlobStore;
  private readonly sessions = new UploadSessions();
  private readonly manifestInfo = new LruCache<CachedInfo>(10_000);
  private readonly meta: MetadataCache;
  private readonly catalogListing: RefreshingValue<string[]>;
  private readonly tagLists = new LruCache<RefreshingValue<string[]>>(1_000);

  constructor(
    readonly driver: StorageDriver,
    private readonly options: RegistryOptions,
  ) {
    this.meta = new TtlCache(options.metadataTtlMs);
    this.blobs = new BlobStore(driver, this.meta);
    this.catalogListing = new RefreshingValue(() => this.walkCatalog(), options.metadataTtlMs, this.staleListingMs());
  }

  /** Chooses pull-through repositories for mirrored names (src/proxy); set once at start-up. */
  mirror: RepositoryMirror | undefined;

  /** A repository's stores. The name must already be validated (names.ts). */
  repository(name: string): Repository {
    if (this.mirror) {
      const mirrored = this.mirror.repository(name);
      if (mirrored) return mirrored;
    }
    return this.localRepository(name);
  }

  /**
   * The stores as they are in storage, never proxied. `cache` (for a mirror's copy of upstream
   * content): manifests are stored without checking that their blobs are present, which arrive later.
   */
  localRepository(name: string, cache = false): Repository {
    const linked = new LinkedBlobStore(this.driver, this.blobs, this.meta, name);
    const tags = new TagStore(this.driver, this.meta, name, this.tagList(name));
    const policy = cache ? { ...this.options.policy, skipReferenceChecks: true } : this.options.policy;
    return {
      name,
      blobs: linked,
      tags,
      uploads: new UploadStore(this.driver, this.blobs, linked, this.sessions, name),
      manifests: new ManifestStore(this.driver, this.blobs, linked, tags, policy, this.manifestInfo, this.meta, name, () => this.noteRepository(name)),
    };
  }

  /** Whether `name` is a repository: its directory holds `_manifests`, `_layers` or `_uploads` (a parent of nested repositories alone is not). */
  async repositoryExists(name: string): Promise<boolean> {
    const children = await listNames(this.driver, repositoryPath(name));
    return children.some((c) => c === '_manifests' || c === '_layers' || c === '_uploads');
  }


  /**
   * Removes a repository: its tags, manifest revisions, blob links and uploads (Berth's repository
   * delete, docs/gc.md). Blob data stays until garbage collection. Repositories nested under the
   * name (`name/child`) are kept. False when there was nothing to remove.
   */
  async deleteRepository(name: string): Promise<boolean> {
    let removed = false;
    for (const dir of [manifestsDir(name), layersDir(name), uploadsDir(name)]) {
      if (await deleteIfExists(this.driver, dir)) removed = true;
    }
    this.forgetRepository(name);
    // Drop the directory itself when nothing else (a nested repository) lives in it.
    if ((await listNames(this.driver, repositoryPath(name))).length === 0) await deleteIfExists(this.driver, repositoryPath(name));
    return removed;
  }

  /** Drops every cached item of metadata: another instance changed the storage (src/redis/invalidation.ts). */
  invalidateMetadata(): void {
    this.meta.clear();
    this.catalogListing.invalidate();
    this.tagLists.clear();
  }

  /** A repository's kept tag list (see RefreshingValue). */
  private tagList(name: string): RefreshingValue<string[]> {
    let listing = this.tagLists.get(name);
    if (!listing) {
      listing = new RefreshingValue(() => TagStore.read(this.driver, name), this.options.metadataTtlMs, this.staleListingMs());
      this.tagLists.set(name, listing);
    }
    return listing;
  }

  /** With caching off (several instances without redis) nothing stale is ever answered. */
  private staleListingMs(): number {
    return this.options.metadataTtlMs > 0 ? STALE_LISTING_MS : 0;
  }

  /** Drops cached metadata about a repository (after a repository delete, or a collector's changes). */
  forgetRepository(name: string): void {
    void this.blobs.shared?.forgetRepository(name);
    for (const kind of ['l', 'r']) this.meta.deletePrefix(`${kind}:${name}@`);
    this.meta.deletePrefix(`t:${name}:`);
    this.tagLists.delete(name);
    this.catalogListing.update((names) => withoutName(names, name));
  }

  /** Drops cached presence of a manifest revision that was removed behind the stores' back (garbage collection). */
  forgetRevision(name: string, digest: Digest): void {
    this.meta.delete(`r:${name}@${digest.value}`);
  }

  /** This process created a repository (its first manifest). */
  noteRepository(name: string): void {
    this.catalogListing.update((names) => withName(names, name));
  }

  /** Every repository holding manifests, sorted (a directory with a `_manifests` child, as Distribution counts them). */
  catalog(): Promise<string[]> {
    return this.catalogListing.get();
  }

  /**
   * Repositories are directories with a `_manifests` child. On the filesystem every directory
   * below repositories/ is read once, in parallel (the driver bounds how many at a time), by name
   * only: a child starting with "_" is a repository's own folder and is not entered, any other is
   * a further name component. On object stores one walk (a flat, paged listing) is far cheaper
   * than a listing request per folder.
   */
  private async walkCatalog(): Promise<string[]> {
    const names: string[] = [];
    if (this.driver.walksByFlatListing) {
      const prefix = REPOSITORIES_ROOT.length + 1;
      try {
        await this.driver.walk(REPOSITORIES_ROOT, (info) => {
          if (!info.isDir) return;
          const base = info.path.slice(info.path.lastIndexOf('/') + 1);
          if (!base.startsWith('_')) return;
          if (base === '_manifests') names.push(info.path.slice(prefix, info.path.lastIndexOf('/')));
          return 'skip';
        });
      } catch (err) {
        if (!isPathNotFound(err)) throw err;
      }
      return names.sort(compareBytes);
    }
    const visit = async (dir: string, name: string): Promise<void> => {
      const children = await listNames(this.driver, dir);
      const deeper: Promise<void>[] = [];
      for (const child of children) {
        if (child.startsWith('_')) {
          if (child === '_manifests' && name) names.push(name);
        } else {
          deeper.push(visit(`${dir}/${child}`, name ? `${name}/${child}` : child));
        }
      }
      await Promise.all(deeper);
    };
    await visit(REPOSITORIES_ROOT, '');
    return names.sort(compareBytes);
  }



  /** Manifests in `name` whose subject is `subject`, as descriptors for a referrers index. */
  async referrers(repo: Repository, subject: Digest, artifactType?: string): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    for (const digest of await repo.manifests.revisions()) {
      const info = await repo.manifests.info(digest);
      if (!info || info.subject?.digest.value !== subject.value) continue;
      if (artifactType !== undefined && info.artifactType !== artifactType) continue;
      out.push({ mediaType: info.mediaType, digest, size: info.size, artifactType: info.artifactType, annotations: info.annotations });
    }
    return out.sort((a, b) => compareBytes(a.digest.value, b.digest.value));
  }
}

/** Decides which names are served through a pull-through cache (src/proxy/mirror.ts). */
export interface RepositoryMirror {
  /** The proxying repository for a mirrored name; undefined for a name stored locally. */
  repository(name: string): Repository | undefined;
}

export interface Repository {
  readonly name: string;
  readonly blobs: LinkedBlobStore;
  readonly tags: TagStore;
  readonly uploads: UploadStore;
  readonly manifests: ManifestStore;
}
