import type { Digest } from '../digest.js';
import type { StorageDriver } from './driver/types.js';
import { BlobStore } from './blobs.js';
import { LruCache, TtlCache, type MetadataCache } from './cache.js';
import { LinkedBlobStore } from './linked-blobs.js';
import { ManifestStore, type CachedInfo, type ManifestPolicy } from './manifests/store.js';
import type { Descriptor } from './manifests/types.js';
import { REPOSITORIES_ROOT, layersDir, manifestsDir, repositoryPath, uploadsDir } from './paths.js';
import { deleteIfExists, listNames } from './links.js';
import { TagStore, compareBytes } from './tags.js';
import { UploadSessions, UploadStore } from './uploads.js';
import { isPathNotFound } from './driver/errors.js';

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

  constructor(
    readonly driver: StorageDriver,
    private readonly options: RegistryOptions,
  ) {
    this.meta = new TtlCache(options.metadataTtlMs);
    this.blobs = new BlobStore(driver, this.meta);
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
    const tags = new TagStore(this.driver, this.meta, name);
    const policy = cache ? { ...this.options.policy, skipReferenceChecks: true } : this.options.policy;
    return {
      name,
      blobs: linked,
      tags,
      uploads: new UploadStore(this.driver, this.blobs, linked, this.sessions, name),
      manifests: new ManifestStore(this.driver, this.blobs, linked, tags, policy, this.manifestInfo, this.meta, name),
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
  }

  /** Drops cached metadata about a repository (after a repository delete, or a collector's changes). */
  forgetRepository(name: string): void {
    void this.blobs.shared?.forgetRepository(name);
    for (const kind of ['l', 'r']) this.meta.deletePrefix(`${kind}:${name}@`);
    this.meta.deletePrefix(`t:${name}:`);
    this.meta.delete('c:');
  }

  /** Drops cached presence of a manifest revision that was removed behind the stores' back (garbage collection). */
  forgetRevision(name: string, digest: Digest): void {
    this.meta.delete(`r:${name}@${digest.value}`);
    this.meta.delete('c:');
  }

  /** Every repository holding manifests, sorted (a directory with a `_manifests` child, as Distribution counts them). */
  async catalog(): Promise<string[]> {
    const cached = this.meta.get('c:');
    if (Array.isArray(cached)) return cached;
    const names = await this.walkCatalog();
    this.meta.set('c:', names);
    return names;
  }

  private async walkCatalog(): Promise<string[]> {
    const names: string[] = [];
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
