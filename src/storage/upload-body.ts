import { finished, type Readable } from 'node:stream';

/**
 * An upload's bytes on their way to storage: hashed as they arrive, gathered into blocks, each
 * block written while the next one fills. Blocks come from one pool and go back to it once
 * written (FileWriter.writeBorrowed), so a push allocates nothing per byte: fresh memory for
 * every block or socket read costs page faults and garbage collections, which made up half of
 * the CPU an upload took (docs/performance.md, "The upload path").
 */
export interface BodySink {
  /** Every piece of the body, in order, as it arrives (for hashing); valid only during the call. */
  data(piece: Uint8Array): void;
  /** The bytes since the previous block, to store; its memory is reused once the promise resolves. One call at a time. */
  block(block: Uint8Array): Promise<void>;
}

/** A request body as uploads consume it. */
export interface UploadBody {
  /**
   * Delivers the whole body to `sink`, once. Resolves with its length once every block is
   * stored; rejects when the body or a block fails, after the block being stored has settled.
   */
  deliver(sink: BodySink): Promise<number>;
}

/** Bytes per block: the size of each storage write of an upload. */
export const BLOCK_SIZE = 512 * 1024;
/** Blocks filled and waiting for storage, per upload, before the body's reading pauses. */
const QUEUED_LIMIT = 3;
/** Blocks kept for reuse between uploads; beyond this they are left to the garbage collector. */
const POOL_LIMIT = 64;
/** Once no upload has used the pool for this long its blocks are let go (they would stay resident). */
const POOL_IDLE_MS = 2000;

class BlockPool {
  private readonly free: Buffer[] = [];
  private users = 0;
  private idle: NodeJS.Timeout | undefined;

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(BLOCK_SIZE);
  }

  give(block: Buffer): void {
    if (this.free.length < POOL_LIMIT) this.free.push(block);
  }

  /** An upload starts using blocks. */
  enter(): void {
    this.users++;
    if (this.idle) {
      clearTimeout(this.idle);
      this.idle = undefined;
    }
  }

  leave(): void {
    if (--this.users > 0 || this.idle) return;
    this.idle = setTimeout(() => {
      this.idle = undefined;
      if (this.users === 0) this.free.length = 0;
    }, POOL_IDLE_MS);
    this.idle.unref();
  }
}

const pool = new BlockPool();

/** What a body's reader is told by its blocks: read on, hold on, or stop (a block could not be stored). */
export interface ReadControl {
  pause(): void;
  resume(): void;
  failed(err: unknown): void;
}

/**
 * The blocks of one body. Its reader puts bytes in (read in place into `space()`, or copied in),
 * full blocks are stored one after another while the next fills, and the reader is paused while
 * QUEUED_LIMIT blocks wait. Every byte goes to the sink's `data` as it is put in.
 */
export class BodyBlocks {
  private current: Buffer;
  private filled = 0;
  private bytes = 0;
  private queued = 0;
  private paused = false;
  private failure: { err: unknown } | undefined;
  private released = false;
  /** The blocks handed to storage, one after another. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: BodySink,
    private readonly control: ReadControl,
  ) {
    pool.enter();
    this.current = pool.take();
  }

  /** Bytes put in so far. */
  get size(): number {
    return this.bytes;
  }

  /** Bytes in the current block so far: space() starts there. */
  get offset(): number {
    return this.filled;
  }

  /** Where the next bytes may be read into: the rest of the current block. */
  space(): Buffer {
    return this.current.subarray(this.filled);
  }

  /** `n` bytes were read into the start of space(). */
  placed(n: number): void {
    if (n === 0) return;
    this.sink.data(this.current.subarray(this.filled, this.filled + n));
    this.filled += n;
    this.bytes += n;
    if (this.filled === this.current.length) this.store();
  }

  /**
   * `n` bytes were read into the current block at `from` (at or after offset, with framing bytes
   * between): moves them down to offset and places them.
   */
  compact(from: number, n: number): void {
    if (from !== this.filled) this.current.copyWithin(this.filled, from, from + n);
    this.placed(n);
  }

  /** Copies `bytes` in (a reader with buffers of its own). */
  copy(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; ) {
      const n = Math.min(bytes.length - at, this.current.length - this.filled);
      this.current.set(bytes.subarray(at, at + n), this.filled);
      this.placed(n);
      at += n;
    }
  }

  /** The body is complete: stores the rest; resolves with the body's length once all of it is stored. */
  async end(): Promise<number> {
    if (this.filled > 0 && !this.failure) this.store();
    await this.chain;
    this.release();
    if (this.failure) throw this.failure.err;
    return this.bytes;
  }

  /** The body failed: nothing more is stored; resolves once no block is being stored. */
  async abort(): Promise<void> {
    this.failure ??= { err: new Error('upload body aborted') };
    await this.chain;
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    pool.give(this.current);
    pool.leave();
  }

  /** Hands the current block to storage and starts the next. */
  private store(): void {
    const block = this.current;
    const view = block.subarray(0, this.filled);
    this.current = pool.take();
    this.filled = 0;
    this.queued++;
    if (this.queued >= QUEUED_LIMIT && !this.paused) {
      this.paused = true;
      this.control.pause();
    }
    this.chain = this.chain.then(async () => {
      try {
        if (!this.failure) await this.sink.block(view);
      } catch (err) {
        this.failure = { err };
        this.control.failed(err);
      } finally {
        pool.give(block);
        this.queued--;
        if (this.paused && this.queued < QUEUED_LIMIT && !this.failure) {
          this.paused = false;
          this.control.resume();
        }
      }
    });
  }
}

/** A body from a Readable (a TLS or HTTP/2 request, the library): its chunks are copied into blocks. */
export function readableBody(stream: Readable): UploadBody {
  return {
    deliver(sink) {
      return new Promise<number>((resolve, reject) => {
        let settled = false;
        const fail = (err: unknown): void => {
          if (settled) return;
          settled = true;
          stream.off('data', onData);
          stream.pause();
          void blocks.abort().then(() => reject(err));
        };
        const blocks = new BodyBlocks(sink, { pause: () => stream.pause(), resume: () => stream.resume(), failed: fail });
        const onData = (chunk: Buffer): void => blocks.copy(chunk);
        stream.on('data', onData);
        finished(stream, { writable: false }, (err) => {
          if (err) return fail(err);
          if (settled) return;
          settled = true;
          blocks.end().then(resolve, reject);
        });
      });
    },
  };
}

/** What the upload operations take: a body made for them, or any Readable. */
export type UploadSource = UploadBody | Readable;

export function uploadBodyOf(source: UploadSource): UploadBody {
  return 'deliver' in source ? source : readableBody(source);
}
