import { randomUUID } from 'node:crypto';
import { RegistryError } from '../oci/errors.js';
import { Digester, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import { isPathNotFound, StorageFullError } from './driver/errors.js';
import type { FileWriter, StorageDriver } from './driver/types.js';
import type { BlobDescriptor, BlobStore } from './blobs.js';
import type { LinkedBlobStore } from './linked-blobs.js';
import { deleteIfExists } from './links.js';
import type { RepositoryUploads } from './repository.js';
import { uploadDataPath, uploadDir, uploadStartedAtPath } from './paths.js';
import { uploadBodyOf, type UploadSource } from './upload-body.js';
import { listsKeys } from './modes.js';

export interface UploadStatus {
  readonly id: string;
  /** Bytes received so far. */
  readonly size: number;
}

/** What a PATCH or final PUT may say about where its bytes belong. */
export interface ChunkExpectation {
  /** First byte offset of the chunk (from Content-Range): must equal the current size. */
  start?: number;
  /** Where the client was last told the upload stands (the Offset signed into its `_state`): must equal the current size. */
  offset?: number;
  /** Number of bytes the chunk must carry (from Content-Range or Content-Length). */
  length?: number;
}

const UPLOAD_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * Running hashes of uploads in progress, shared by every repository of one process, so a chunk
 * is hashed once as it streams in. A session missing here (another process took the earlier
 * chunks, or this one restarted) is rebuilt by re-reading the data received so far.
 * Each upload also gets a lock: its chunks are appended strictly one after another.
 */
export class UploadSessions {
  private readonly digesters = new Map<string, Digester>();
  private readonly locks = new Map<string, Promise<unknown>>();

  take(key: string, size: number, algorithm: DigestAlgorithm): Digester | undefined {
    const d = this.digesters.get(key);
    this.digesters.delete(key);
    return d && d.size === size && d.algorithm === algorithm ? d : undefined;
  }

  keep(key: string, digester: Digester): void {
    this.digesters.set(key, digester);
  }

  forget(key: string): void {
    this.digesters.delete(key);
  }

  async exclusive<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(task);
    this.locks.set(key, run);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === run) this.locks.delete(key);
    }
  }
}

export class UploadStore implements RepositoryUploads {
  /** Directories are key prefixes (object stores): one whose last file moved away is gone with it. */
  private readonly implicitDirectories: boolean;

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly linked: LinkedBlobStore,
    private readonly sessions: UploadSessions,
    readonly name: string,
  ) {
    this.implicitDirectories = listsKeys(driver);
  }

  async create(): Promise<UploadStatus> {
    const id = randomUUID();
    try {
      // Two independent writes, at once: on an object store each is a request to wait for.
      const data = async () => (await this.driver.writer(uploadDataPath(this.name, id))).commit();
      await Promise.all([this.driver.putContent(uploadStartedAtPath(this.name, id), Buffer.from(new Date().toISOString())), data()]);
    } catch (err) {
      // No half-made session (a startedat without data) is left for the purge to find.
      await deleteIfExists(this.driver, uploadDir(this.name, id)).catch(() => undefined);
      throw err;
    }
    this.sessions.keep(this.key(id), new Digester());
    return { id, size: 0 };
  }

  /**
   * A whole blob in one request (POST ?digest=): streamed into a fresh upload file, hashed with the
   * digest's own algorithm, verified, moved into place and linked. Half the storage operations of
   * create() + commit(): no startedat file (purging falls back to the folder's time) and no
   * running-hash session. Where the driver stages writes (object stores), no upload file either:
   * the body goes straight to the blob's own path (putStaged).
   */
  async putWhole(digest: Digest, body: UploadSource, expect: ChunkExpectation = {}): Promise<BlobDescriptor> {
    const staged = this.blobs.stagedWriter(digest);
    if (staged) return this.putStaged(await staged, digest, body, expect);
    const id = randomUUID();
    const data = uploadDataPath(this.name, id);
    const digester = new Digester(digest.algorithm);
    let removed = false;
    try {
      const writer = await this.driver.writer(data);
      try {
        await pump(body, writer, digester);
      } catch (err) {
        await writer.cancel().catch(() => undefined);
        throw err;
      }
      await writer.commit();
      if (expect.length !== undefined && digester.size !== expect.length) {
        throw new RegistryError('SIZE_INVALID', 'body length does not match Content-Length', { expected: expect.length, got: digester.size });
      }
      const actual = digester.digest();
      if (actual.value !== digest.value) throw new RegistryError('DIGEST_INVALID', undefined, { digest: digest.value, actual: actual.value });
      // Its data was its one file: once moved on an object store nothing is left to remove.
      await this.linkThenRemove(digest, digester.size, id, { onlyData: true });
      removed = true;
      return { digest, size: digester.size };
    } finally {
      if (!removed) await deleteIfExists(this.driver, uploadDir(this.name, id));
    }
  }

  /**
   * A blob's whole body written straight at the blob's own path by a staged writer
   * (StorageDriver.stagedWriter: on object stores, where a move from the upload folder is a copy
   * and a delete), hashed as it streams, and committed only once its length and digest verify:
   * nothing shows at the blob's path before that, and a writer that fails or is cancelled leaves
   * it as it was (a killed process leaves a pending write there, for the upload purger). `upload`
   * is the upload the body completes (its folder is removed once the blob is stored, or when the
   * digest is wrong), or none (POST ?digest=).
   */
  private async putStaged(writer: FileWriter, digest: Digest, body: UploadSource, expect: ChunkExpectation, upload?: string): Promise<BlobDescriptor> {
    const digester = new Digester(digest.algorithm);
    let ended = false;
    try {
      await pump(body, writer, digester);
      if (expect.length !== undefined && digester.size !== expect.length) {
        throw new RegistryError('SIZE_INVALID', 'body length does not match Content-Length', { expected: expect.length, got: digester.size });
      }
      const actual = digester.digest();
      if (actual.value !== digest.value) {
        if (upload !== undefined) await this.remove(upload);
        throw new RegistryError('DIGEST_INVALID', undefined, { digest: digest.value, actual: actual.value });
      }
      let removal: Promise<void> | undefined;
      try {
        await this.linked.link(digest, digester.size, async () => {
          await this.blobs.adoptStaged(digest, writer); // a commit that fails aborts what it had staged
          ended = true;
          if (upload === undefined) return;
          removal = this.remove(upload, { finished: true });
          removal.catch(() => undefined); // awaited below
        });
      } catch (err) {
        await removal?.catch(() => undefined);
        // A quota refused the blob: the upload is over (nothing was stored or linked).
        if (upload !== undefined && err instanceof RegistryError && err.code === 'DENIED') await this.remove(upload);
        throw err;
      }
      await removal;
      return { digest, size: digester.size };
    } finally {
      if (!ended) await writer.cancel().catch(() => undefined);
    }
  }

  /**
   * Links the verified upload `id` as `digest`, its data moved into the blob store, and removes
   * what is left of the upload while the link is written: once the data is in place the upload is
   * done with, and on an object store its removal is several requests that need not wait for the
   * link's. With `onlyData` (the upload stored nothing but its data), data moved away on an object
   * store leaves nothing to remove, and the removal's requests are not made. Resolves once both
   * have ended.
   */
  private async linkThenRemove(digest: Digest, size: number, id: string, { onlyData = false } = {}): Promise<void> {
    let removal: Promise<void> | undefined;
    try {
      await this.linked.link(digest, size, async () => {
        const moved = await this.blobs.adopt(digest, uploadDataPath(this.name, id), size);
        if (moved && onlyData && this.implicitDirectories) return;
        removal = this.remove(id, { finished: true, onlyData });
        // Awaited below; handled now so that a failure while the link is written is not "unhandled".
        removal.catch(() => undefined);
      });
    } catch (err) {
      await removal?.catch(() => undefined);
      throw err;
    }
    await removal;
  }

  async status(id: string): Promise<UploadStatus> {
    return { id, size: await this.size(id) };
  }

  /** Appends a chunk (PATCH). Throws RANGE_INVALID with the current Range when out of order. */
  append(id: string, body: UploadSource, expect: ChunkExpectation = {}): Promise<UploadStatus> {
    return this.sessions.exclusive(this.key(id), () =>
      this.endedWhenFull(id, async () => {
        const size = await this.appendLocked(id, body, expect, { last: false });
        return { id, size };
      }),
    );
  }

  /** Completes an upload (PUT ?digest=), with an optional last chunk; the blob is linked into the repository. */
  commit(id: string, digest: Digest, body?: UploadSource, expect: ChunkExpectation = {}): Promise<BlobDescriptor> {
    return this.sessions.exclusive(this.key(id), () => this.endedWhenFull(id, async () => {
      // A body that is the whole blob (the upload holds nothing yet: a monolithic push) goes
      // straight into place where the driver offers that, sparing the move's copy.
      if (body && this.blobs.stagesWrites && (await this.size(id)) === 0) {
        try {
          checkPosition(0, expect);
        } catch (err) {
          if (!('deliver' in body)) body.resume();
          throw err;
        }
        return this.putStaged(await this.blobs.stagedWriter(digest)!, digest, body, expect, id);
      }
      let size: number;
      if (body) {
        size = await this.appendLocked(id, body, expect, { last: true });
      } else {
        // The data becomes a whole file (durable where the driver is set to be: filesystem fsync)
        // before its digest is checked; a last chunk in this request was committed as it was written.
        const data = await this.open(id);
        size = await checkPositionOf(data, expect);
        await data.commit();
      }
      const digester = this.sessions.take(this.key(id), size, digest.algorithm) ?? (await this.rehash(id, digest.algorithm));
      const actual = digester.digest();
      if (actual.value !== digest.value) {
        await this.remove(id);
        throw new RegistryError('DIGEST_INVALID', undefined, { digest: digest.value, actual: actual.value });
      }
      try {
        await this.linkThenRemove(digest, size, id);
      } catch (err) {
        // A quota refused the blob: the upload is over and its data goes (nothing was moved or linked).
        if (err instanceof RegistryError && err.code === 'DENIED') await this.remove(id);
        throw err;
      }
      return { digest, size };
    }));
  }

  async cancel(id: string): Promise<void> {
    await this.size(id);
    await this.sessions.exclusive(this.key(id), () => this.remove(id));
  }

  /**
   * Appends a chunk; the last one (in the PUT that completes the upload) is committed, made durable
   * where the driver is set to. Other chunks end with the writer suspended (FileWriter.suspend):
   * the data need not be readable between chunks, which spares S3 a copy of it per chunk.
   */
  private async appendLocked(id: string, body: UploadSource, expect: ChunkExpectation, { last }: { last: boolean }): Promise<number> {
    let writer = await this.open(id);
    let size: number;
    try {
      size = await checkPositionOf(writer, expect);
    } catch (err) {
      if (!('deliver' in body)) body.resume();
      throw err;
    }
    const key = this.key(id);
    let digester = this.sessions.take(key, size, 'sha256');
    if (!digester) {
      // The hash is rebuilt from the data, which must be a readable file for that.
      await writer.commit();
      digester = await this.rehash(id, 'sha256');
      writer = await this.open(id);
    }
    try {
      await pump(body, writer, digester);
    } catch (err) {
      // The whole blocks already stored stay, the one still filling does not (upload-body.ts), on
      // every driver; a client resumes from the Range it is told. The running hash is dropped
      // since it may disagree with what was stored, and rebuilt on the next request.
      await release(writer).catch(() => undefined);
      throw err;
    }
    await (last ? writer.commit() : release(writer));
    const written = digester.size - size;
    if (expect.length !== undefined && written !== expect.length) {
      throw new RegistryError('SIZE_INVALID', 'chunk length does not match its Content-Range or Content-Length', { expected: expect.length, got: written });
    }
    this.sessions.keep(key, digester);
    return digester.size;
  }

  private async rehash(id: string, algorithm: DigestAlgorithm): Promise<Digester> {
    const digester = new Digester(algorithm);
    const stream = await this.driver.reader(uploadDataPath(this.name, id), 0);
    for await (const chunk of stream) digester.update(chunk as Buffer);
    return digester;
  }

  /** Bytes received so far. */
  private async size(id: string): Promise<number> {
    if (!UPLOAD_ID.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { id });
    try {
      return (await this.driver.stat(uploadDataPath(this.name, id))).size;
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
    // Data left by a suspended writer may be no file yet; a writer finds it, or BLOB_UPLOAD_UNKNOWN.
    const data = await this.open(id);
    await release(data);
    return data.size;
  }

  /** The upload's data opened for appending; BLOB_UPLOAD_UNKNOWN when there is no such upload. */
  private async open(id: string): Promise<FileWriter> {
    if (!UPLOAD_ID.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { id });
    try {
      return await this.driver.writer(uploadDataPath(this.name, id), { append: true });
    } catch (err) {
      if (isPathNotFound(err)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { id });
      throw err;
    }
  }

  /**
   * A full device ends the upload: its data is removed, which frees the space it held, and the
   * client, told 503 and then 404 BLOB_UPLOAD_UNKNOWN, pushes the blob again once there is room.
   */
  private async endedWhenFull<T>(id: string, task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (err) {
      if (err instanceof StorageFullError) await this.remove(id).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Removes what is left of an upload. `finished`: its data's writers all committed (a blob now
   * stored), so no write of it is pending, and the store is not asked for any (S3: no listing of
   * multipart uploads); one a killed process left is aborted by upload purging. `onlyData`: it
   * stored nothing else (no startedat).
   */
  private async remove(id: string, { finished = false, onlyData = false } = {}): Promise<void> {
    this.sessions.forget(this.key(id));
    // A finished upload's folder holds only its startedat (none with `onlyData`) here: with it gone
    // first, the folder goes in one call rather than a failed one, a listing and two more (object
    // stores list the prefix and delete what is there in one batch either way).
    if (finished && !onlyData && !this.implicitDirectories) await deleteIfExists(this.driver, uploadStartedAtPath(this.name, id));
    await deleteIfExists(this.driver, uploadDir(this.name, id), finished ? { pendingWrites: false } : undefined);
  }

  private key(id: string): string {
    return `${this.name}\u0000${id}`;
  }
}

/** The Range header value Distribution sends for an upload holding `size` bytes. */
export function uploadRange(size: number): string {
  return `0-${Math.max(size - 1, 0)}`;
}

function rangeHeaders(size: number): Record<string, string> {
  return { Range: uploadRange(size) };
}

/** `size` when a request's bytes belong there; RANGE_INVALID with the current Range when the client's idea of the upload is behind or ahead. */
function checkPosition(size: number, expect: ChunkExpectation): number {
  if (expect.start !== undefined && expect.start !== size) {
    throw new RegistryError('RANGE_INVALID', 'chunk does not start where the upload ends', { expected: size, got: expect.start }, { headers: rangeHeaders(size) });
  }
  if (expect.offset !== undefined && expect.offset !== size) {
    throw new RegistryError('RANGE_INVALID', 'the upload URL is out of date: continue from the Location of the last response', { expected: size, got: expect.offset }, { headers: rangeHeaders(size) });
  }
  return size;
}

/** Ends a writer of an upload's data between chunks: suspended where the driver can, else closed. */
function release(writer: FileWriter): Promise<void> {
  return writer.suspend ? writer.suspend() : writer.close();
}

/** checkPosition against an open data writer, which is released when the position is wrong. */
async function checkPositionOf(writer: FileWriter, expect: ChunkExpectation): Promise<number> {
  try {
    return checkPosition(writer.size, expect);
  } catch (err) {
    await release(writer).catch(() => undefined);
    throw err;
  }
}

/**
 * Streams body into writer, hashing as it goes: the body's blocks are stored one at a time while
 * the next fills. Writers without writeBorrowed keep what they are given, so they get copies.
 */
async function pump(source: UploadSource, writer: FileWriter, digester: Digester): Promise<void> {
  const store = writer.writeBorrowed ? (block: Uint8Array) => writer.writeBorrowed!(block) : (block: Uint8Array) => writer.write(Buffer.from(block));
  await uploadBodyOf(source).deliver({ data: (piece) => digester.update(piece), block: store });
}
