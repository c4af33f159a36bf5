import type { Readable } from 'node:stream';
import type { UploadSource } from './upload-body.js';
import type { Digest } from '../oci/digest.js';
import type { RandomAccessFile } from './driver/types.js';
import type { BlobDescriptor } from './blobs.js';
import type { PageNeed } from './listing/sorted.js';
import type { CachedInfo, StoredManifest } from './manifests/store.js';
import type { ChunkExpectation, UploadStatus } from './uploads.js';

/**
 * One repository as the HTTP layer sees it: its blobs, tags, manifests and uploads. A local
 * repository is built on storage (local-repository.ts); a mirrored one (src/proxy/repository.ts)
 * reads through to an upstream and refuses every write. Each interface lists every operation the
 * HTTP layer may call, so a store that implements it has to decide on each, and an operation
 * added later cannot be reached through a store that has not.
 */
export interface Repository {
  readonly name: string;
  readonly blobs: RepositoryBlobs;
  readonly tags: RepositoryTags;
  readonly manifests: RepositoryManifests;
  readonly uploads: RepositoryUploads;
  /**
   * Whether the repository holds manifests (its directory has `_manifests`): one with only blobs
   * or uploads is unknown to tags/list, as in Distribution. A mirrored repository holds what it
   * has fetched (its tag list is asked upstream before this is).
   */
  hasManifests(): Promise<boolean>;
  /**
   * Removes the repository: its tags, manifest revisions, blob links and uploads (Berth's
   * repository delete, docs/gc.md). Blob data stays until garbage collection. False when there
   * was nothing to remove.
   */
  delete(): Promise<boolean>;
}

/*
 * Cached reads (`cachedStat`, `cachedTarget`, `cached`): what the matching read would answer, given
 * without awaiting anything, when this process's caches hold all of it fresh and nothing it
 * depends on is being deleted; undefined otherwise, and the caller then awaits the read itself.
 * They never answer what the read would not (a write drops what it changes from the caches first).
 * The hot pull path (manifest GET and HEAD, blob HEAD) answers from them without a promise per
 * layer of the stores. Optional: a repository that keeps nothing (a mirror) leaves them out.
 */

/** The blobs a repository links (a blob is reachable through a repository only while it holds a link). */
export interface RepositoryBlobs {
  stat(digest: Digest): Promise<BlobDescriptor | undefined>;
  /** `stat`'s answer for a blob it would find, when the metadata cache holds all of it (see "Cached reads" above). */
  cachedStat?(digest: Digest): BlobDescriptor | undefined;
  reader(digest: Digest, offset?: number, length?: number): Promise<Readable>;
  /** The blob opened for positioned reads, when storage offers that (see StorageDriver.openRead). */
  openRead(digest: Digest, from?: number): Promise<RandomAccessFile | undefined>;
  redirectURL(digest: Digest, method: 'GET' | 'HEAD'): Promise<string | undefined>;
  /** Links a blob that `source` can see (any blob in storage without a source); its descriptor, or undefined when it cannot. */
  mountFrom(source: RepositoryBlobs | undefined, digest: Digest): Promise<BlobDescriptor | undefined>;
  /** Removes the repository's link (a blob DELETE); the data stays for garbage collection. */
  unlink(digest: Digest): Promise<boolean>;
}

export interface RepositoryTags {
  resolve(tag: string): Promise<Digest | undefined>;
  /** `resolve`'s answer for a tag that exists, when the metadata cache holds it (see "Cached reads" above). */
  cachedTarget?(tag: string): Digest | undefined;
  /**
   * The tag's target as this process last read or wrote it, without reading anything: `fresh`
   * within berth.metadatattl, else (stale) for the listings' stale window past it; undefined when
   * nothing is kept or a change dropped it. For listings that answer what they have and read it
   * again behind the answer (the UI's tag pages).
   */
  recent(tag: string): { digest: Digest; fresh: boolean } | undefined;
  /** Every tag, sorted; with `need`, possibly complete only up to the end of that page. */
  list(need?: PageNeed): Promise<string[]>;
  /** Tags whose current target is `digest`. */
  lookup(digest: Digest): Promise<string[]>;
  untag(tag: string): Promise<boolean>;
}

export interface RepositoryManifests {
  /** Whether the repository holds the revision. */
  has(digest: Digest): Promise<boolean>;
  /** Size and format of a revision (for HEAD). */
  stat(digest: Digest): Promise<CachedInfo | undefined>;
  /** `stat`'s answer for a revision it would find, when the caches hold all of it (see "Cached reads" above). */
  cachedStat?(digest: Digest): CachedInfo | undefined;
  get(digest: Digest): Promise<StoredManifest | undefined>;
  /** `get`'s answer for a revision it would find, when the caches hold all of it (see "Cached reads" above). */
  cached?(digest: Digest): StoredManifest | undefined;
  put(content: Buffer, contentType: string | undefined, reference: { tag?: string; digest?: Digest }): Promise<StoredManifest>;
  /** Removes the revision and every tag that points at it; false when there is no such revision. */
  delete(digest: Digest): Promise<boolean>;
  /** Every revision in the repository. */
  revisions(): Promise<Digest[]>;
  /** Parsed facts about a revision's content. */
  info(digest: Digest): Promise<CachedInfo | undefined>;
}

export interface RepositoryUploads {
  create(): Promise<UploadStatus>;
  /** A whole blob in one request (POST ?digest=). */
  putWhole(digest: Digest, body: UploadSource, expect?: ChunkExpectation): Promise<BlobDescriptor>;
  status(id: string): Promise<UploadStatus>;
  append(id: string, body: UploadSource, expect?: ChunkExpectation): Promise<UploadStatus>;
  commit(id: string, digest: Digest, body?: UploadSource, expect?: ChunkExpectation): Promise<BlobDescriptor>;
  cancel(id: string): Promise<void>;
}

/** Decides which names are served through a pull-through cache (src/proxy/mirror.ts). */
export interface RepositoryMirror {
  /** The proxying repository for a mirrored name; undefined for a name stored locally. */
  repository(name: string): Repository | undefined;
}
