import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import { InvalidOffsetError, isPathNotFound } from './driver/errors.js';
import type { FileWriter, RandomAccessFile, StorageDriver } from './driver/types.js';
import { LruCache } from './lru.js';
import { metadataKeys, type MetadataCache } from './metadata-cache.js';
import { BlobGuard } from './blob-guard.js';
import { blobDataPath, blobDir } from './paths.js';

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

export interface BlobDescriptor {
  readonly digest: Digest;
  readonly size: number;
}

/**
 * The global, content-addressed blob store. Having data here grants no access by itself:
 * repositories see a blob only through their links (linked-blobs.ts).
 */
export class BlobStore {
  /** Small immutable content read often (manifests), by digest. */
  private readonly contents = new LruCache<Buffer>(64 * 1024 * 1024, (b) => b.length);

  constructor(
    private readonly driver: StorageDriver,
    private readonly meta: MetadataCache,
    /** Tells an in-process garbage collector which digests the server relies on (blob-guard.ts). */
    readonly guard: BlobGuard = new BlobGuard(),
  ) {}

  /** The blob descriptor cache shared with other instances (storage.cache.blobdescriptor: redis), when set. */
  shared: SharedBlobDescriptors | undefined;

  /** Counts blob descriptor lookups as cache hits or misses (registry_storage_cache_total), when metrics are on. */
  cacheCounters: { hit(): void; miss(): void } | undefined;

  /** Records that the server relies on `digest` existing; waits out a deletion of it in progress. */
  use(digest: Digest): Promise<void> | undefined {
    return this.guard.use(digest.value);
  }

  /** `stat` answered from the metadata cache alone (RepositoryBlobs.cachedStat); records the use as `stat` does. */
  cachedStat(digest: Digest): BlobDescriptor | undefined {
    if (this.use(digest)) return undefined;
    const size = this.meta.get(metadataKeys.blobSize(digest));
    if (size === undefined) return undefined;
    this.cacheCounters?.hit();
    return { digest, size };
  }

  /** A small blob's content when it is kept in memory (getContent's cache); reads nothing. */
  cachedContent(digest: Digest): Buffer | undefined {
    return this.contents.get(digest.value);
  }

  async stat(digest: Digest): Promise<BlobDescriptor | undefined> {
    const deleting = this.use(digest);
    if (deleting) await deleting;
    const counters = this.cacheCounters;
    let missed = false;
    const size = await this.meta.through(metadataKeys.blobSize(digest), () => this.readSize(digest, counters && (() => (missed = true))));
    if (missed) counters?.miss();
    else counters?.hit();
    return size !== undefined ? { digest, size } : undefined;
  }

  private async readSize(digest: Digest, onMiss?: () => void): Promise<number | undefined> {
    const shared = await this.shared?.size(digest.value);
    if (shared !== undefined) return shared;
    onMiss?.();
    try {
      // A blob's data is a file: an object store need not look for a directory when it is missing.
      const path = blobDataPath(digest);
      const info = await (this.driver.statFile ? this.driver.statFile(path) : this.driver.stat(path));
      if (info.isDir) return undefined;
      await this.shared?.setSize(digest.value, info.size);
      return info.size;
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The blob opened for positioned reads, when the driver offers that (see StorageDriver.openRead). */
  async openRead(digest: Digest, from = 0): Promise<RandomAccessFile | undefined> {
    if (!this.driver.openRead) return undefined;
    try {
      return await this.driver.openRead(blobDataPath(digest), from);
    } catch (err) {
      if (isPathNotFound(err)) {
        this.forget(digest);
        throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
      }
      throw err;
    }
  }

  /** A stream of the blob's bytes; BLOB_UNKNOWN when the data is gone (e.g. swept meanwhile). */
  async reader(digest: Digest, offset = 0, length?: number): Promise<Readable> {
    try {
      return await this.driver.reader(blobDataPath(digest), offset, length);
    } catch (err) {
      if (isPathNotFound(err)) {
        this.forget(digest);
        await this.shared?.forget(digest.value);
        throw new RegistryError('BLOB_UNKNOWN', undefined, { digest: digest.value });
      }
      if (err instanceof InvalidOffsetError) throw new RegistryError('RANGE_INVALID', 'range not satisfiable');
      throw err;
    }
  }

  async getContent(digest: Digest): Promise<Buffer | undefined> {
    const cached = this.contents.get(digest.value);
    if (cached) return cached;
    try {
      const content = await this.driver.getContent(blobDataPath(digest));
      this.contents.set(digest.value, content);
      return content;
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Stores small content (a manifest) whose digest the caller has computed. */
  async putContent(digest: Digest, content: Uint8Array): Promise<void> {
    if (await this.stat(digest)) return;
    await this.driver.putContent(blobDataPath(digest), content);
    this.contents.set(digest.value, Buffer.from(content));
    this.meta.set(metadataKeys.blobSize(digest), content.length);
    await this.shared?.setSize(digest.value, content.length);
  }

  /**
   * Moves a verified upload into place, and says so; when the blob already exists the upload is
   * left where it is (false), for its owner to drop.
   */
  async adopt(digest: Digest, sourcePath: string, size: number): Promise<boolean> {
    if (await this.stat(digest)) return false;
    await this.driver.move(sourcePath, blobDataPath(digest), { size });
    this.meta.set(metadataKeys.blobSize(digest), size);
    await this.shared?.setSize(digest.value, size);
    return true;
  }

  /**
   * A writer of the blob's data at its own path that shows nothing there until committed, where
   * the driver has one (StorageDriver.stagedWriter: object stores, whose moves copy); else undefined.
   */
  stagedWriter(digest: Digest): Promise<FileWriter> | undefined {
    return this.driver.stagedWriter?.(blobDataPath(digest));
  }

  /** Whether stagedWriter gives writers. */
  get stagesWrites(): boolean {
    return this.driver.stagedWriter !== undefined;
  }

  /**
   * Stores a verified blob written by stagedWriter: committed, and says so; when the blob already
   * exists the staged content is discarded instead (false), as adopt leaves its source.
   */
  async adoptStaged(digest: Digest, writer: FileWriter): Promise<boolean> {
    if (await this.stat(digest)) {
      await writer.cancel();
      return false;
    }
    await writer.commit();
    this.meta.set(metadataKeys.blobSize(digest), writer.size);
    await this.shared?.setSize(digest.value, writer.size);
    return true;
  }

  /** Set once the driver has answered that it gives no URLs (the filesystem): not asked again. */
  private redirectsUnsupported = false;

  async redirectURL(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined> {
    if (this.redirectsUnsupported) return undefined;
    const url = await this.driver.redirectURL(blobDataPath(digest), { method });
    if (url === undefined) this.redirectsUnsupported = true;
    return url;
  }

  /** Removes the content itself (garbage collection only). */
  async delete(digest: Digest): Promise<void> {
    this.forget(digest);
    await this.shared?.forget(digest.value);
    try {
      // A staged write of the same blob (a push of it now) is not aborted: its commit stores the
      // blob again. One a killed process left is the upload purger's (purge.ts).
      await this.driver.delete(blobDir(digest), { pendingWrites: false });
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
  }

  forget(digest: Digest): void {
    this.meta.delete(metadataKeys.blobSize(digest));
    this.contents.delete(digest.value);
  }
}
