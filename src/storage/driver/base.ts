import type { Readable } from 'node:stream';
import { tracer } from '../../tracing/index.js';
import { InvalidOffsetError, InvalidPathError, isPathNotFound, StorageDriverError, storageFault } from './errors.js';
import {
  PATH_PATTERN,
  type FileInfo,
  type DeleteOptions,
  type FileWriter,
  type MoveOptions,
  type PendingWrite,
  type RandomAccessFile,
  type RedirectOptions,
  type StorageDriver,
  type WalkFn,
  type WalkOptions,
  type WriterOptions,
} from './types.js';

/**
 * The wrapper applied once to every driver (Distribution's driver/base): it checks every path
 * and offset before the driver sees them, turns unexpected errors into StorageDriverError naming
 * the driver (driver errors such as PathNotFoundError pass through unchanged; a full device or an
 * unreachable store becomes StorageFullError or StorageUnavailableError), reports the
 * duration of each operation to an optional callback for metrics, and, with tracing on, makes a
 * span of each operation a request causes (src/tracing), so drivers themselves know nothing of it.
 */

/** One finished driver operation, for metrics. */
export interface OperationEvent {
  driver: string;
  /** "getContent", "putContent", "reader", "writer", "writer.write", "writer.commit", … */
  operation: string;
  path: string;
  durationMs: number;
  /** The error thrown, when the operation failed; undefined when it succeeded. */
  error?: unknown;
}

export interface BaseOptions {
  onOperation?: (event: OperationEvent) => void;
}

/**
 * True when path is a valid driver path: PATH_PATTERN, and no "." or ".." component (the pattern
 * lets them through, but on a filesystem they would name a different place, even outside the
 * root). `root: true` also admits "/" (list, stat and walk accept the root, as in Distribution).
 */
export function isValidPath(path: unknown, { root = false }: { root?: boolean } = {}): path is string {
  if (typeof path !== 'string') return false;
  if (root && path === '/') return true;
  if (!PATH_PATTERN.test(path)) return false;
  for (const part of path.split('/')) {
    if (part === '.' || part === '..') return false;
  }
  return true;
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Wraps a driver. Wrapping an already wrapped driver returns it unchanged. */
export function wrapDriver(driver: StorageDriver, options: BaseOptions = {}): StorageDriver {
  if (driver instanceof BaseDriver) return driver;
  return new BaseDriver(driver, options);
}

/** "Path not found" answers a question (is it there?); only other errors mark a storage span failed. */
function isStorageFailure(err: unknown): boolean {
  return !isPathNotFound(err);
}

/** Errors thrown by a walk visitor: passed through untouched, never normalised. */
const visitorErrors = new WeakSet<object>();

class BaseDriver implements StorageDriver {
  readonly name: string;
  readonly openRead?: (path: string, from?: number) => Promise<RandomAccessFile>;
  readonly stagedWriter?: (path: string) => Promise<FileWriter>;
  readonly statFile?: (path: string) => Promise<FileInfo>;
  readonly listPendingWrites?: (path: string) => Promise<PendingWrite[]>;
  readonly abortPendingWrite?: (write: PendingWrite) => Promise<void>;
  readonly listFiles?: (path: string, skip?: (lastPath: string) => string | undefined) => AsyncIterable<string[]>;
  readonly listChildren?: (path: string, after?: string) => AsyncIterable<string[]>;
  readonly objectKey?: (path: string) => string;

  constructor(
    private readonly inner: StorageDriver,
    private readonly options: BaseOptions,
  ) {
    this.name = inner.name;
    const openRead = inner.openRead?.bind(inner);
    if (openRead) {
      this.openRead = async (path, from = 0) => {
        const p = this.checkPath(path);
        if (!isCount(from)) throw new InvalidOffsetError(this.name, p, from);
        return this.run('openRead', p, () => openRead(p, from));
      };
    }
    const stagedWriter = inner.stagedWriter?.bind(inner);
    if (stagedWriter) {
      this.stagedWriter = async (path) => {
        const p = this.checkPath(path);
        return this.run('stagedWriter', p, async () => new BaseWriter(this, p, await stagedWriter(p)));
      };
    }
    const statFile = inner.statFile?.bind(inner);
    if (statFile) {
      this.statFile = async (path) => {
        const p = this.checkPath(path);
        return this.run('statFile', p, () => statFile(p));
      };
    }
    // Pending writes come as a pair: offered only when the driver has both.
    const listPending = inner.listPendingWrites?.bind(inner);
    const abortPending = inner.abortPendingWrite?.bind(inner);
    if (listPending && abortPending) {
      this.listPendingWrites = async (path) => {
        const p = this.checkPath(path, { root: true });
        return this.run('listPendingWrites', p, () => listPending(p));
      };
      this.abortPendingWrite = async (write) => {
        const p = this.checkPath(write.path);
        return this.run('abortPendingWrite', p, () => abortPending(write));
      };
    }
    const listFiles = inner.listFiles?.bind(inner);
    if (listFiles) this.listFiles = (path, skip) => this.pages('listFiles', this.checkPath(path, { root: true }), (p) => listFiles(p, skip));
    const listChildren = inner.listChildren?.bind(inner);
    if (listChildren) this.listChildren = (path, after) => this.pages('listChildren', this.checkPath(path, { root: true }), (p) => listChildren(p, after));
    const objectKey = inner.objectKey?.bind(inner);
    if (objectKey) this.objectKey = (path) => objectKey(this.checkPath(path));
  }

  /** A paged listing, each page fetched as one timed, normalised operation. */
  private async *pages(operation: string, path: string, list: (path: string) => AsyncIterable<string[]>): AsyncGenerator<string[]> {
    const pages = list(path)[Symbol.asyncIterator]();
    for (;;) {
      const page = await this.run(operation, path, () => pages.next());
      if (page.done) return;
      yield page.value;
    }
  }

  private checkPath(path: unknown, options?: { root: true }): string {
    if (!isValidPath(path, options)) throw new InvalidPathError(this.name, String(path));
    return path;
  }

  /**
   * Runs one operation: timing, error normalisation, and with tracing on a child span of the
   * request's (`storage.<operation>`; not for each chunk a writer writes, which would flood a trace).
   */
  private run<T>(operation: string, path: string, fn: () => Promise<T>): Promise<T> {
    if (tracer === undefined || operation === 'writer.write') return this.timed(operation, path, fn);
    const attributes = { 'storage.driver': this.name, 'storage.operation': operation, 'storage.path': path };
    return tracer.inSpan(`storage.${operation}`, 'internal', attributes, () => this.timed(operation, path, fn), isStorageFailure);
  }

  private async timed<T>(operation: string, path: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let error: unknown;
    try {
      return await fn();
    } catch (err) {
      error = this.normalise(operation, path, err);
      throw error;
    } finally {
      this.report(operation, path, started, error);
    }
  }

  private report(operation: string, path: string, started: number, error: unknown): void {
    const hook = this.options.onOperation;
    if (!hook) return;
    try {
      hook({ driver: this.name, operation, path, durationMs: performance.now() - started, error });
    } catch {
      // A metrics callback must never break storage.
    }
  }

  normalise(operation: string, path: string, err: unknown): unknown {
    if (err instanceof StorageDriverError) return err;
    if (typeof err === 'object' && err !== null && visitorErrors.has(err)) return err;
    const fault = storageFault(this.name, err);
    if (fault) return fault;
    const detail = err instanceof Error ? err.message : String(err);
    return new StorageDriverError(this.name, `${this.name}: ${operation} ${path}: ${detail}`, { cause: err });
  }

  async getContent(path: string): Promise<Buffer> {
    const p = this.checkPath(path);
    return this.run('getContent', p, () => this.inner.getContent(p));
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    const p = this.checkPath(path);
    return this.run('putContent', p, () => this.inner.putContent(p, content));
  }

  async reader(path: string, offset = 0, length?: number): Promise<Readable> {
    const p = this.checkPath(path);
    if (!isCount(offset)) throw new InvalidOffsetError(this.name, p, offset);
    if (length !== undefined && !isCount(length)) throw new InvalidOffsetError(this.name, p, length);
    return this.run('reader', p, () => this.inner.reader(p, offset, length));
  }

  async writer(path: string, options: WriterOptions = {}): Promise<FileWriter> {
    const p = this.checkPath(path);
    return this.run('writer', p, async () => new BaseWriter(this, p, await this.inner.writer(p, { append: options.append === true })));
  }

  async stat(path: string): Promise<FileInfo> {
    const p = this.checkPath(path, { root: true });
    return this.run('stat', p, () => this.inner.stat(p));
  }

  async list(path: string): Promise<string[]> {
    const p = this.checkPath(path, { root: true });
    return this.run('list', p, () => this.inner.list(p));
  }

  async move(sourcePath: string, destPath: string, options?: MoveOptions): Promise<void> {
    const s = this.checkPath(sourcePath);
    const d = this.checkPath(destPath);
    if (options?.size !== undefined && !isCount(options.size)) throw new InvalidOffsetError(this.name, s, options.size);
    return this.run('move', s, () => this.inner.move(s, d, options));
  }

  async delete(path: string, options?: DeleteOptions): Promise<void> {
    const p = this.checkPath(path);
    return this.run('delete', p, () => this.inner.delete(p, options));
  }

  async redirectURL(path: string, options: RedirectOptions): Promise<string | undefined> {
    const p = this.checkPath(path);
    return this.run('redirectURL', p, () => this.inner.redirectURL(p, options));
  }

  async walk(path: string, visit: WalkFn, options?: WalkOptions): Promise<void> {
    const p = this.checkPath(path, { root: true });
    const guarded: WalkFn = async (info) => {
      try {
        return await visit(info);
      } catch (err) {
        if (typeof err === 'object' && err !== null) visitorErrors.add(err);
        throw err;
      }
    };
    return this.run('walk', p, () => this.inner.walk(p, guarded, options));
  }

  async close(): Promise<void> {
    if (this.inner.close) await this.run('close', '/', () => this.inner.close!());
  }

  /** For BaseWriter: same timing and normalisation as the driver's own operations. */
  runFor<T>(operation: string, path: string, fn: () => Promise<T>): Promise<T> {
    return this.run(operation, path, fn);
  }
}

class BaseWriter implements FileWriter {
  readonly writeBorrowed?: (chunk: Uint8Array) => Promise<void>;
  readonly suspend?: () => Promise<void>;

  constructor(
    private readonly base: BaseDriver,
    private readonly path: string,
    private readonly inner: FileWriter,
  ) {
    const borrowed = inner.writeBorrowed?.bind(inner);
    if (borrowed) this.writeBorrowed = (chunk) => this.base.runFor('writer.write', this.path, () => borrowed(chunk));
    const suspend = inner.suspend?.bind(inner);
    if (suspend) this.suspend = () => this.base.runFor('writer.suspend', this.path, suspend);
  }

  get size(): number {
    return this.inner.size;
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.base.runFor('writer.write', this.path, () => this.inner.write(chunk));
  }

  close(): Promise<void> {
    return this.base.runFor('writer.close', this.path, () => this.inner.close());
  }

  cancel(): Promise<void> {
    return this.base.runFor('writer.cancel', this.path, () => this.inner.cancel());
  }

  commit(): Promise<void> {
    return this.base.runFor('writer.commit', this.path, () => this.inner.commit());
  }
}
