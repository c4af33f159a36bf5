import type { FileHandle } from 'node:fs/promises';
import { pageAligned } from './aligned-memory.js';
import { ALIGN, type DirectTarget, type DirectWrites } from './direct-writes.js';
import { errnoCode, StorageDriverError } from './errors.js';
import type { FileWriter } from './types.js';

/**
 * The filesystem driver's FileWriter. Chunks are not copied: they are collected until a block's
 * worth is pending, then written with one writev while the next block collects; so a writer holds
 * at most about two blocks of its caller's buffers, and write() takes ownership of the chunk
 * (as a Node Writable does): the caller must not change it afterwards. writeBorrowed() writes
 * its chunk whole, at once, and gives it back when written: uploads pass blocks of 512 KiB or 4 MiB.
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
  /**
   * Writes past the page cache where aligned (direct-writes.ts): `open` gives the file's direct
   * handle, asked for at the first run long enough; undefined: every write is buffered.
   */
  direct?: { open: () => Promise<DirectTarget | undefined>; writes: DirectWrites };
}

/** Direct writes are used only for aligned runs at least this long: a short one waits for the disk for little gain. */
const DIRECT_MIN = 64 * 1024;

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
  /** The file's direct handle, once a write asked for it (undefined inside: direct I/O cannot be used). */
  private direct: Promise<DirectTarget | undefined> | undefined;
  /** Direct writes are off for this writer (none configured, or refused). */
  private buffered: boolean;

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    existingSize: number,
    private readonly options: WriterOptions,
  ) {
    this.position = existingSize;
    this.written = existingSize;
    this.buffered = !options.direct;
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
      if (wasOpen) {
        await this.closeDirect();
        await this.fh.close().catch(() => undefined);
      }
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
    // With direct writes, bytes past the last aligned offset wait for the next block, so that
    // writes of any size still reach the disk in aligned runs.
    if (this.pendingBytes >= this.options.blockSize) await this.flush(this.buffered ? 0 : (this.position + this.pendingBytes) % ALIGN);
  }

  /** Starts writing what is pending, but for its last `keep` bytes, once the previous block is written. */
  private async flush(keep = 0): Promise<void> {
    if (this.pendingBytes <= keep) return;
    const n = this.pendingBytes - keep;
    const chunks = keep > 0 ? takeBytes(this.pending, n) : this.pending;
    this.pending = keep > 0 ? skipBytes(this.pending, n) : [];
    this.pendingBytes = keep;
    const pos = this.position;
    this.position += n;
    await this.inflight;
    this.check();
    this.inflight = this.writeAll(chunks, pos).catch((err: unknown) => {
      this.failure = err;
    });
  }

  /**
   * Writes chunks at position: with direct writes, the part from the first aligned offset to the
   * last is written past the page cache (from the chunk itself when it is one chunk in page-aligned
   * memory starting there, else copied into staging buffers), what is around it (and everything
   * when no staging buffer is free) through it.
   */
  private async writeAll(chunks: Uint8Array[], position: number): Promise<void> {
    const direct = this.options.direct;
    if (this.buffered || !direct) return this.writeBuffered(chunks, position);
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const head = Math.min(total, (ALIGN - (position % ALIGN)) % ALIGN);
    const end = head + Math.floor((total - head) / ALIGN) * ALIGN;
    if (end - head < DIRECT_MIN) return this.writeBuffered(chunks, position);
    const target = await (this.direct ??= this.options.io(direct.open));
    if (!target) {
      this.buffered = true;
      return this.writeBuffered(chunks, position);
    }
    let done = 0;
    if (head > 0) {
      await this.writeBuffered(takeBytes(chunks, head), position);
      done = head;
    }
    // An upload's block (page-aligned, at an aligned offset): written from where it is, whole.
    const own = head === 0 && chunks.length === 1 && pageAligned(chunks[0]!) ? chunks[0]! : undefined;
    while (done < end) {
      const stage = own ? undefined : direct.writes.take();
      if (!own && !stage) break;
      try {
        const n = stage ? Math.min(stage.length, end - done) : end - done;
        if (stage) copyBytes(chunks, done, n, stage);
        const source = stage ?? own!.subarray(done);
        const written = await this.options.io(() => target.write(source, n, position + done));
        done += written;
        if (written !== n) break;
      } catch (err) {
        if (errnoCode(err) !== 'EINVAL') throw err;
        // Direct I/O refused after all: this and every later write go through the page cache.
        direct.writes.refuse();
        this.buffered = true;
        break;
      } finally {
        if (stage) direct.writes.give(stage);
      }
    }
    if (done < total) await this.writeBuffered(skipBytes(chunks, done), position + done);
  }

  /** Closes the direct handle, if one was opened. */
  private async closeDirect(): Promise<void> {
    const target = await this.direct?.catch(() => undefined);
    await target?.close().catch(() => undefined);
  }

  private async writeBuffered(chunks: Uint8Array[], position: number): Promise<void> {
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
      await this.closeDirect();
      await this.fh.close();
    }
  }
}

/** The first n bytes of chunks. */
function takeBytes(chunks: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) {
    if (n <= 0) break;
    out.push(c.length <= n ? c : c.subarray(0, n));
    n -= c.length;
  }
  return out;
}

/** Copies n bytes of chunks, from byte `from` on, into target. */
function copyBytes(chunks: Uint8Array[], from: number, n: number, target: Buffer): void {
  let at = 0;
  for (const c of chunks) {
    if (at >= n) break;
    if (from >= c.length) {
      from -= c.length;
      continue;
    }
    const part = c.subarray(from, Math.min(c.length, from + n - at));
    target.set(part, at);
    at += part.length;
    from = 0;
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
