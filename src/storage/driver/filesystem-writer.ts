import type { FileHandle } from 'node:fs/promises';
import { StorageDriverError } from './errors.js';
import type { FileWriter } from './types.js';

/**
 * The filesystem driver's FileWriter. Small writes are copied into a staging buffer and written
 * in large blocks; two buffers alternate, so the next block fills while the previous one is being
 * written (the caller's chunk is always copied or fully written before write() resolves, so the
 * caller may reuse it). Chunks at least as large as a block go straight to the file.
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
  private stage: Buffer;
  private spare: Buffer | undefined;
  private used = 0;
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
    this.stage = Buffer.allocUnsafe(options.blockSize);
  }

  get size(): number {
    return this.written;
  }

  write(chunk: Uint8Array): Promise<void> {
    this.ensureOpen();
    this.written += chunk.length;
    return this.serial(() => this.doWrite(chunk));
  }

  close(): Promise<void> {
    if (this.state !== 'open') return Promise.resolve();
    this.state = 'closed';
    return this.serial(() => this.finish(false));
  }

  commit(): Promise<void> {
    this.ensureOpen();
    this.state = 'committed';
    return this.serial(() => this.finish(this.options.sync));
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
    const block = this.options.blockSize;
    if (chunk.length >= block) {
      await this.flushStage();
      await this.inflight;
      this.check();
      const pos = this.position;
      this.position += chunk.length;
      await this.writeAt(chunk, pos);
      return;
    }
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(block - this.used, chunk.length - offset);
      this.stage.set(chunk.subarray(offset, offset + n), this.used);
      this.used += n;
      offset += n;
      if (this.used === block) await this.flushStage();
    }
  }

  /** Starts writing the staged block, after the previous block is done; swaps buffers. */
  private async flushStage(): Promise<void> {
    if (this.used === 0) return;
    const data = this.stage.subarray(0, this.used);
    const pos = this.position;
    this.position += this.used;
    await this.inflight;
    this.check();
    this.inflight = this.writeAt(data, pos).catch((err: unknown) => {
      this.failure = err;
    });
    const free = this.spare ?? Buffer.allocUnsafe(this.options.blockSize);
    this.spare = this.stage;
    this.stage = free;
    this.used = 0;
  }

  private async writeAt(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.options.io(() =>
        this.fh.write(data, done, data.length - done, position + done),
      );
      done += bytesWritten;
    }
  }

  private async finish(sync: boolean): Promise<void> {
    try {
      await this.flushStage();
      await this.inflight;
      this.check();
      if (sync) await this.options.io(() => this.fh.datasync());
    } finally {
      this.stage = Buffer.alloc(0);
      this.spare = undefined;
      await this.fh.close();
    }
  }
}
