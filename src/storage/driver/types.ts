import type { Readable } from 'node:stream';

/**
 * The storage driver: the one seam between Berth and where bytes live. Its operations mirror
 * Distribution's driver (GetContent, PutContent, Reader, Writer, Stat, List, Move, Delete,
 * RedirectURL, Walk) so that every backend Distribution supports can be written against it.
 *
 * Paths are absolute, slash-separated, and match PATH_PATTERN; the base wrapper (base.ts) checks
 * them before a driver sees them, so drivers may trust their input. Drivers throw the errors in
 * errors.ts (PathNotFoundError, InvalidOffsetError, …) and nothing else for expected conditions.
 */
export interface StorageDriver {
  /** The name it is registered under, e.g. "filesystem". */
  readonly name: string;

  /** The whole content of a file. PathNotFoundError when absent. Meant for small files. */
  getContent(path: string): Promise<Buffer>;

  /** Stores content at path atomically: readers see the old content or the new, never a part. */
  putContent(path: string, content: Uint8Array): Promise<void>;

  /**
   * A stream of the file from `offset` (and at most `length` bytes when given).
   * PathNotFoundError when absent; InvalidOffsetError when offset is negative or past the end.
   */
  reader(path: string, offset?: number, length?: number): Promise<Readable>;

  /**
   * Optional: the file opened for reads into the caller's buffers. Blob downloads use it to reuse
   * their buffers, where a stream allocates one per read. `from` is where the caller's reads will
   * begin. The filesystem reads at any position; a driver that streams the file (S3 over plain
   * HTTP) starts there and takes reads that cover the file from there in order, without gaps.
   * PathNotFoundError when absent.
   */
  openRead?(path: string, from?: number): Promise<RandomAccessFile>;

  /**
   * A writer for path: a new file (replacing any old one), or with `append` the continuation of an
   * existing one (PathNotFoundError when absent). Content written but not yet committed may be
   * visible at path: callers that need atomic visibility write elsewhere and move.
   */
  writer(path: string, options?: WriterOptions): Promise<FileWriter>;

  /**
   * Optional, for stores where a move copies the bytes (object stores): a writer of a new file at
   * path whose content appears there only when commit() resolves, all at once; until then path
   * shows what it held before (or nothing). cancel() and close() discard what was written and
   * leave path as it was. A writer that never ends (its process killed) leaves at most a pending
   * write at path (listPendingWrites), never a file. For a verified upload written straight into
   * place (src/storage/uploads.ts), which spares the move's copy. Drivers whose writes show at
   * path as they go, or whose moves are renames, leave it out.
   */
  stagedWriter?(path: string): Promise<FileWriter>;

  /** Size, modification time and kind. PathNotFoundError when absent. Directories are implicit. */
  stat(path: string): Promise<FileInfo>;

  /**
   * Optional, for stores where telling a directory from nothing takes a request of its own (object
   * stores: a HEAD of the key finds a file, a listing of the prefix a directory): stat of a path
   * that can only be a file (a blob's data), which never looks for a directory. PathNotFoundError
   * when no file is there, a directory included. Callers fall back to stat without it.
   */
  statFile?(path: string): Promise<FileInfo>;

  /** Full paths of the direct children of a directory, sorted. PathNotFoundError when absent. */
  list(path: string): Promise<string[]>;

  /**
   * Moves a file, replacing dest. PathNotFoundError when source is absent. `size`, when the caller
   * knows the source's (a verified upload), spares an object store a request asking for it.
   */
  move(sourcePath: string, destPath: string, options?: MoveOptions): Promise<void>;

  /**
   * Deletes a file or a whole directory tree. PathNotFoundError when no file is there. Drivers
   * with pending writes (below) also abort those at or under path, so nothing stored is left; they
   * do so even when no file is there (and still throw PathNotFoundError then), unless the caller
   * says to leave them (`pendingWrites: false`: every writer it opened there was committed or
   * cancelled, or one there is a write in progress that must go on, as a staged write of a blob
   * being deleted), which also spares an object store the listing of its uploads.
   */
  delete(path: string, options?: DeleteOptions): Promise<void>;

  /**
   * Optional, for stores where an unfinished write is kept apart from files until finished (S3
   * multipart uploads): such writes at or under path (path itself, or below `path + '/'`, never
   * `path + 'x'`), in no particular order. A process killed in mid-write leaves them
   * behind; they are invisible to stat/list/walk yet stored (and billed). An empty list when there
   * are none, also for a missing path. Drivers whose writes land in the file as they go
   * (filesystem, append blobs on Azure) have none and leave both methods out.
   */
  listPendingWrites?(path: string): Promise<PendingWrite[]>;

  /** Optional, with listPendingWrites: discards one pending write. No error when it is already gone. */
  abortPendingWrite?(write: PendingWrite): Promise<void>;

  /**
   * A URL a client may fetch the content from directly, or undefined when the driver gives no URLs
   * (then for every path: callers stop asking after the first undefined).
   */
  redirectURL(path: string, options: RedirectOptions): Promise<string | undefined>;

  /**
   * Visits every file and directory under path, depth-first, in lexical order of full path, each
   * directory before its contents. The visitor may return 'skip' (for a directory: do not descend)
   * or 'stop' (end the walk). PathNotFoundError when path is absent.
   */
  walk(path: string, visit: WalkFn, options?: WalkOptions): Promise<void>;

  /**
   * Optional, for stores that list by key (object stores): the paths of every file below `path`,
   * page by page as the store answers, in byte order of path (not walk order: `/a-b/x` comes
   * before `/a/x`). Lets a caller act on the first pages of a large listing before the last
   * arrives (the catalog, src/storage/listing/catalog.ts). Nothing for a missing path. `skip`, a hint
   * a driver may ignore, is asked after each page with the page's last path and may name a path
   * to go on after instead, leaving out what lies between (the rest of a large folder).
   */
  listFiles?(path: string, skip?: (lastPath: string) => string | undefined): AsyncIterable<string[]>;

  /**
   * Optional, with listFiles: the direct children of `path`, page by page as the store answers,
   * as names (not paths), a directory's followed by '/', in byte order of those strings (the
   * store's key order). Lets a caller answer from the first page of a long folder (a tag list).
   * Nothing for a missing path. With `after` (a hint a driver may ignore) the listing may begin
   * after that string, leaving out children that sort at or before it.
   */
  listChildren?(path: string, after?: string): AsyncIterable<string[]>;

  /**
   * Optional, for object stores: the key of path's object in the store (s3: `rootdirectory` +
   * path, without the leading slash), for a CDN in front of the bucket (the cloudfront middleware).
   */
  objectKey?(path: string): string;

  /** Releases resources (connections, timers). Optional. */
  close?(): Promise<void>;
}

export interface RandomAccessFile {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into the start of `buffer`; resolves the count read. */
  read(buffer: Uint8Array, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

/** A write begun but neither finished nor discarded (listPendingWrites). */
export interface PendingWrite {
  /** The driver path the write would create. */
  readonly path: string;
  /** The store's identifier for it (an S3 UploadId). */
  readonly id: string;
  /** When it began, by the store's clock. */
  readonly started: Date;
}

export interface FileInfo {
  readonly path: string;
  /** Bytes for a file; 0 for a directory. */
  readonly size: number;
  readonly modTime: Date;
  readonly isDir: boolean;
}

export interface DeleteOptions {
  /** false: leave writes pending at or under path alone (there are none, or they must go on). */
  pendingWrites?: boolean;
}

export interface MoveOptions {
  /** The source's size in bytes, when the caller knows it. */
  size?: number;
}

export interface WriterOptions {
  /** Continue the existing file instead of starting a new one (Distribution's `append`). */
  append?: boolean;
}

export interface FileWriter {
  /** Bytes in the file so far, including content from before an append. */
  readonly size: number;
  /** Appends chunk. The writer may keep a reference until it is written: do not change it afterwards. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Optional: appends chunk as write() does, but the writer is done with it once the promise
   * resolves (it is written, or copied), so the caller may fill the same memory again: uploads
   * read request bodies into a few reused blocks (src/storage/upload-body.ts), where fresh
   * memory for every block costs page faults and garbage collections. The caller waits for each
   * call before the next. Writers without it get a copy of each block passed to write().
   */
  writeBorrowed?(chunk: Uint8Array): Promise<void>;
  /** Flushes and releases the writer; the content stays at path and may be appended to later. */
  close(): Promise<void>;
  /**
   * Optional: releases the writer as close() does, but the store may keep the content where only
   * a later `writer(path, { append: true })` finds it (its `size`, and what it continues), not yet
   * readable through stat, reader, getContent or list; a commit() (or close()) through such a
   * writer makes it a file again. For a file written in pieces by several writers (an upload's
   * chunks), where making it readable after each piece costs a copy of all of it (S3: a multipart
   * upload kept open instead of completed). Callers without it use close().
   */
  suspend?(): Promise<void>;
  /** Discards the file. */
  cancel(): Promise<void>;
  /** Flushes; after commit the content is complete at path. The writer is closed by it. */
  commit(): Promise<void>;
}

export interface RedirectOptions {
  method: 'GET' | 'HEAD';
  /** Seconds the URL stays valid. */
  expiresIn?: number;
}

export type WalkResult = void | 'skip' | 'stop';
export type WalkFn = (info: FileInfo) => WalkResult | Promise<WalkResult>;

export interface WalkOptions {
  /** Entries whose path sorts at or before this may be skipped (a hint, for resuming listings). */
  startAfter?: string;
}

/** Every driver is built from its config section (the map under `storage.<name>`). */
export type DriverFactory = (parameters: Record<string, unknown>) => StorageDriver | Promise<StorageDriver>;

/** Distribution's path grammar: one or more `/component`, components of [A-Za-z0-9._-]. */
export const PATH_PATTERN = /^(\/[A-Za-z0-9._-]+)+$/;
