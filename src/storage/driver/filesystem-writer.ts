import type { FileHandle } from 'node:fs/promises';
import { StorageDriverError } from './errors.js';
import type { FileWriter } from './types.js';

/**
 * The filesystem driver's FileWriter. Chunks are not copied: they are collected until a block's
 * worth is pending, then written with one writev while the next block collects; so a writer holds
 * at most about two blocks of its caller's buffers, and write() takes ownership of the chunk
 * (as a Node Writable does): the caller must not change it afterwards. writeBorrowed() writes
 * its chunk whole, at once, and gives it back when written: uploads pass blocks of 512 KiB.
 */

export interface WriterOptions {
  /** Bytes per block written to the file. */
  blockSize: number;
  /** fdatasync the file in commit() so committed content survives a crash. */
  sync: boolean;
  /** Bounds concurrent file operations (maxthreads). */
  io: <T>(op: () => Promise<T>) => Promise<T>;
  /** Removes the file (for cancel). */
  remove: () => Promise<void>;
}

const NAME = 'filesystem';

export class FilesystemWriter implements FileWriter {
  private state: 'open' | 'closed' | 'committed' | 'cancelled' = 'open';
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Where the next block goes in the file. */
  private position: number;
  private written: number;
  private inflight: Promise<void> = Promise.resolve();
  private failure: unknown;
  /** Serialises calls, so an unawaited write cannot overtake another. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    existingSize: number,
    private readonly options: WriterOptions,
  ) {
    this.position = existingSize;
    this.written = existingSize;
  }

  get size(): number {
    return this.written;
  }

  write(chunk: Uint8Array): Promise<void> {
    this.ensureOpen();
    this.written += chunk.length;
    return this.serial(() => this.doWrite(chunk));
  }

  /** Writes chunk at once (after what write() left pending) and resolves once it is in the file. */
  writeBorrowed(chunk: Uint8Array): Promise<void> {
    this.ensureOpen();
    this.written += chunk.length;
    return this.serial(async () => {
      this.check();
      if (chunk.length === 0) return;
      await this.flush();
      await this.inflight;
      this.check();
      const pos = this.position;
      this.position += chunk.length;
      try {
        await this.writeAll([chunk], pos);
      } catch (err) {
        this.failure = err;
        throw err;
      }
    });
  }

  close(): Promise<void> {
    if (this.state !== 'open') return Promise.resolve();
    this.state = 'closed';
    return this.serial(() => this.finish({ sync: false }));
  }

  commit(): Promise<void> {
    this.ensureOpen();
    this.state = 'committed';
    return this.serial(() => this.finish({ sync: this.options.sync }));
  }

  async cancel(): Promise<void> {
    if (this.state === 'cancelled') return;
    if (this.state === 'committed') throw new StorageDriverError(NAME, `${NAME}: writer for ${this.path} is committed`);
    const wasOpen = this.state === 'open';
    this.state = 'cancelled';
    await this.serial(async () => {
      await this.inflight;
      if (wasOpen) await this.fh.close().catch(() => undefined);
    }).catch(() => undefined);
    await this.options.remove();
  }

  private ensureOpen(): void {
    if (this.state !== 'open') throw new StorageDriverError(NAME, `${NAME}: writer for ${this.path} is ${this.state}`);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private async doWrite(chunk: Uint8Array): Promise<void> {
    this.check();
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.options.blockSize) await this.flush();
  }

  /** Starts writing what is pending once the previous block is written. */
  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const chunks = this.pending;
    const pos = this.position;
    this.position += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    await this.inflight;
    this.check();
    this.inflight = this.writeAll(chunks, pos).catch((err: unknown) => {
      this.failure = err;
    });
  }

  private async writeAll(chunks: Uint8Array[], position: number): Promise<void> {
    let rest = chunks;
    let pos = position;
    while (rest.length > 0) {
      const batch = rest;
      const { bytesWritten } = await this.options.io(() => this.fh.writev(batch, pos));
      pos += bytesWritten;
      rest = skipBytes(batch, bytesWritten);
    }
  }

  private async finish({ sync }: { sync: boolean }): Promise<void> {
    try {
      await this.flush();
      await this.inflight;
      this.check();
      if (sync) await this.options.io(() => this.fh.datasync());
    } finally {
      this.pending = [];
      await this.fh.close();
    }
  }
}

/** What remains of chunks after the first n bytes (a short writev). */
function skipBytes(chunks: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  let left = n;
  while (i < chunks.length && left >= chunks[i]!.length) left -= chunks[i++]!.length;
  if (i === chunks.length) return [];
  return [chunks[i]!.subarray(left), ...chunks.slice(i + 1)];
}
