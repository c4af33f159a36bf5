import type { StorageDriver } from './driver/types.js';
import type { BlobStore } from './blobs.js';
import type { Listings } from './listing/listings.js';
import type { LruCache } from './lru.js';
import type { MetadataCache } from './metadata-cache.js';
import type { Digest } from '../oci/digest.js';
import { LinkedBlobStore } from './linked-blobs.js';
import { deleteIfExists, listNames } from './links.js';
import { ManifestStore, type CachedInfo, type ManifestPolicy } from './manifests/store.js';
import { layersDir, manifestsDir, repositoryPath, uploadsDir } from './paths.js';
import type { Repository } from './repository.js';
import { immutableTagError, noRules, type StorageRules } from './rules.js';
import { TagStore } from './tags.js';
import type { TagLocks } from './tag-locks.js';
import { UploadSessions, UploadStore } from './uploads.js';

/** What every repository of one registry shares (Registry holds it). */
export interface RegistryParts {
  readonly driver: StorageDriver;
  readonly blobs: BlobStore;
  readonly sessions: UploadSessions;
  readonly manifestInfo: LruCache<CachedInfo>;
  readonly meta: MetadataCache;
  readonly policy: ManifestPolicy;
  readonly listings: Listings;
  readonly rules: StorageRules;
  readonly tagLocks: TagLocks;
  /** Drops what is kept about a deleted repository beside storage. */
  repositoryRemoved(name: string): Promise<void>;
}

export interface LocalRepositoryOptions {
  /**
   * A pull-through cache's copy of upstream content (src/proxy): manifests are stored without
   * checking that their blobs are present, which arrive later.
   */
  mirrorCache?: boolean;
}

/** A repository as it is in storage, never proxied. */
export class LocalRepository implements Repository {
  readonly blobs: LinkedBlobStore;
  readonly tags: TagStore;
  readonly manifests: ManifestStore;
  readonly uploads: UploadStore;

  /** The name must already be validated (oci/names.ts). */
  constructor(
    private readonly parts: RegistryParts,
    readonly name: string,
    options: LocalRepositoryOptions = {},
  ) {
    const { driver, blobs, meta } = parts;
    // A mirror's copy holds what the upstream holds: no checks, no tags of its own, and no rules.
    const rules = options.mirrorCache ? noRules : parts.rules;
    this.blobs = new LinkedBlobStore(driver, blobs, meta, name, rules);
    this.tags = new TagStore(driver, meta, name, parts.listings, rules, parts.tagLocks);
    this.uploads = new UploadStore(driver, blobs, this.blobs, parts.sessions, name);
    const policy = options.mirrorCache ? { ...parts.policy, skipReferenceChecks: true, referrersTags: undefined } : parts.policy;
    this.manifests = new ManifestStore(driver, blobs, this.blobs, this.tags, policy, parts.manifestInfo, meta, name, rules);
    if (rules.protects(name)) this.blobs.beforeUnlink = (digest) => this.refuseIfImmutablyReferenced(digest);
  }

  /** An immutable tag's image keeps its blobs: unlinking one of them (config, layer, a child's) is refused. */
  private async refuseIfImmutablyReferenced(digest: Digest): Promise<void> {
    for (const tag of await this.tags.list()) {
      const rule = this.parts.rules.immutable(this.name, tag);
      const target = rule ? await this.tags.resolve(tag) : undefined;
      if (rule && target && (await this.references(target, new Set())).has(digest.value)) {
        throw immutableTagError(this.name, tag, rule, `its image references blob ${digest.value}, which cannot be deleted`);
      }
    }
  }

  /** Every blob and manifest a manifest references, its children's included. */
  private async references(digest: Digest, seen: Set<string>): Promise<Set<string>> {
    if (seen.has(digest.value)) return seen;
    seen.add(digest.value);
    const info = await this.manifests.info(digest);
    for (const blob of info?.blobs ?? []) seen.add(blob.digest.value);
    for (const child of info?.manifests ?? []) await this.references(child.digest, seen);
    return seen;
  }

  async hasManifests(): Promise<boolean> {
    return (await listNames(this.parts.driver, repositoryPath(this.name))).includes('_manifests');
  }

  /** Repositories nested under the name (`name/child`) are kept. */
  async delete(): Promise<boolean> {
    const { driver, rules } = this.parts;
    if (rules.protects(this.name)) {
      for (const tag of await this.tags.list()) {
        const rule = rules.immutable(this.name, tag);
        if (rule) throw immutableTagError(this.name, tag, rule, 'the repository cannot be deleted');
      }
    }
    let removed = false;
    for (const dir of [manifestsDir(this.name), layersDir(this.name), uploadsDir(this.name)]) {
      if (await deleteIfExists(driver, dir)) removed = true;
    }
    await this.parts.repositoryRemoved(this.name);
    // Drop the directory itself when nothing else (a nested repository) lives in it.
    if ((await listNames(driver, repositoryPath(this.name))).length === 0) await deleteIfExists(driver, repositoryPath(this.name));
    return removed;
  }
}
