import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import type { RandomAccessFile, StorageDriver } from './driver/types.js';
import type { BlobDescriptor, BlobStore } from './blobs.js';
import { metadataKeys, type MetadataCache } from './metadata-cache.js';
import { deleteIfExists, readLink, writeLink } from './links.js';
import { layerLinkPath } from './paths.js';
import type { RepositoryBlobs } from './repository.js';
import type { StorageRules } from './rules.js';

/**
 * A repository's view of the blob store: a blob is reachable through `name` only while the
 * repository links it in `_layers` (layers and configs). Manifests are blobs too, but their
 * `_manifests/revisions` links belong to the ManifestStore: as in Distribution, the blobs endpoint
 * does not serve, and a manifest cannot name as a layer, a manifest that was never pushed as a blob.
 */
export class LinkedBlobStore implements RepositoryBlobs {
  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly meta: MetadataCache,
    readonly name: string,
    private readonly rules: StorageRules,
  ) {}

  /** Asked before a link is removed (LocalRepository: an immutable tag's image keeps its blobs); throws to refuse. */
  beforeUnlink: ((digest: Digest) => Promise<void>) | undefined;

  async isLinked(digest: Digest): Promise<boolean> {
    const linked = await this.meta.through(metadataKeys.layerLink(this.name, digest), async () => {
      if (await this.blobs.shared?.linked(this.name, digest.value)) return true;
      if (!(await this.readLinks(digest))) return undefined;
      await this.blobs.shared?.setLinked(this.name, digest.value);
      return true;
    });
    return linked === true;
  }

  private async readLinks(digest: Digest): Promise<boolean> {
    const link = await readLink(this.driver, layerLinkPath(this.name, digest));
    return link?.value === digest.value;
  }

  cachedStat(digest: Digest): BlobDescriptor | undefined {
    return this.meta.get(metadataKeys.layerLink(this.name, digest)) === true ? this.blobs.cachedStat(digest) : undefined;
  }

  async stat(digest: Digest): Promise<BlobDescriptor | undefined> {
    if (!(await this.isLinked(digest))) return undefined;
    return this.blobs.stat(digest);
  }

  reader(digest: Digest, offset?: number, length?: number): Promise<Readable> {
    return this.blobs.reader(digest, offset, length);
  }

  openRead(digest: Digest, from?: number): Promise<RandomAccessFile | undefined> {
    return this.blobs.openRead(digest, from);
  }

  redirectURL(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined> {
    return this.blobs.redirectURL(digest, method);
  }

  /**
   * Links a blob of `size` bytes into the repository, the one way a blob is linked (upload end,
   * whole upload, mount): its quotas are asked first (refused with 403 DENIED: nothing is moved or
   * linked), then `place` puts an upload's data into the blob store, then the link is written
   * (atomically; writing it again is harmless, and refreshes its age for GC's grace).
   */
  async link(digest: Digest, size: number, place?: () => Promise<void>): Promise<void> {
    const hold = await this.rules.reserve(this.name, digest, size);
    try {
      await place?.();
      const key = metadataKeys.layerLink(this.name, digest);
      if (this.meta.get(key) !== true) await writeLink(this.driver, layerLinkPath(this.name, digest), digest);
      this.meta.set(key, true);
      await this.blobs.shared?.setLinked(this.name, digest.value);
    } finally {
      hold.release();
    }
  }

  /** Removes the repository's link; the data stays for garbage collection. */
  async unlink(digest: Digest): Promise<boolean> {
    await this.beforeUnlink?.(digest);
    const link = await readLink(this.driver, layerLinkPath(this.name, digest));
    await this.blobs.shared?.unlink(this.name, digest.value);
    if (link?.value !== digest.value) return false;
    return deleteIfExists(this.driver, layerLinkPath(this.name, digest).replace(/\/link$/, ''));
  }

  /** Links a blob that `source` can see; returns its descriptor, or undefined when it cannot. */
  async mountFrom(source: RepositoryBlobs | undefined, digest: Digest): Promise<BlobDescriptor | undefined> {
    const desc = source ? await source.stat(digest) : await this.blobs.stat(digest);
    if (!desc) return undefined;
    await this.link(digest, desc.size);
    return desc;
  }
}
