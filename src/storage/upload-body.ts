import { finished, type Readable } from 'node:stream';
import { IdleRelease, reclaimLetGo } from '../reclaim.js';
import { alignedBuffers } from './driver/aligned-memory.js';

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

/** Bytes per small block: the size of each storage write of an upload with less than a large block to come. */
export const BLOCK_SIZE = 512 * 1024;
/**
 * Bytes per large block: an upload with at least this much still to come (or, its length unknown,
 * once this much has come) reads into and writes blocks of this size. Reads and writes eight times
 * larger cost a monolithic push of 256 MiB about 40% less CPU per GiB (1.5–2.0 s down to 0.9–1.1):
 * fewer socket reads and the acknowledgements each sends, fewer direct writes, and an eighth of the
 * per-block work in JavaScript (docs/performance.md, "Large blocks").
 */
export const LARGE_BLOCK_SIZE = 4 * 1024 * 1024;
/**
 * Large blocks out of the pool at once (16 MiB), enough for one upload's reading ahead; an upload
 * that finds none to spare takes small blocks instead, so concurrent uploads hold no more than before.
 */
export const LARGE_LIMIT = 4;
/** Blocks filled and waiting for storage, per upload, before the body's reading pauses. */
export const QUEUED_LIMIT = 3;
/**
 * Small blocks out of the pool over all uploads (filling, queued, being stored) at which a body
 * that needs its next block waits in line for one to come back, its reading paused and its bytes
 * left in the kernel's socket buffer, rather than take fresh memory. 64 uploads at once held 64-72
 * blocks (32-36 MiB) when each could take one whatever the others held; the disk writes only a
 * few at a time anyway (docs/performance.md, "Upload blocks in line").
 */
export const BLOCK_LIMIT = 32;
/**
 * A body that waited this long takes a block past BLOCK_LIMIT: blocks held by slow clients (a
 * block fills only as fast as its client sends) delay the others at most this long per block.
 */
export const BLOCK_WAIT_MS = 200;
/** Small blocks kept for reuse between uploads; beyond this they are left to the garbage collector. */
const POOL_LIMIT = 64;
/**
 * Once no upload has used the pool for TRIM_MS it keeps IDLE_RESERVE small blocks, enough for the
 * next upload of a client pushing layers one after another, and no large one; after POOL_IDLE_MS
 * none (they would stay resident). Without the first step a burst's 64 kept blocks (32 MiB) stayed
 * under the downloads that followed it, e.g. a pull right after a push (docs/performance.md, "Peak
 * RSS over the bench").
 */
const TRIM_MS = 250;
export const IDLE_RESERVE = 8;
const POOL_IDLE_MS = 2000;

/**
 * Blocks of one size, cut from page-aligned memory (aligned-memory.ts) `perMemory` at a time, so
 * that the filesystem driver writes them past the page cache from where they are, without a copy
 * into its staging buffers and without waiting for one (direct-writes.ts). A memory is freed once
 * none of its blocks is kept or held.
 */
class Shelf {
  private free: Buffer[] = [];
  /** Blocks of the newest memory not used yet (not resident). */
  private fresh: Buffer[] = [];
  /** Blocks taken and not given back yet. */
  out = 0;

  constructor(
    readonly size: number,
    private readonly perMemory: number,
    /** Blocks kept for reuse at most. */
    private readonly keepLimit: number,
  ) {}

  take(): Buffer {
    this.out++;
    const kept = this.free.pop();
    if (kept) return kept;
    if (this.fresh.length === 0) this.fresh = alignedBuffers(this.perMemory, this.size) ?? [Buffer.allocUnsafeSlow(this.size)];
    return this.fresh.pop()!;
  }

  give(block: Buffer): void {
    this.out--;
    if (this.free.length < this.keepLimit) this.free.push(block);
  }

  /** Keeps at most `keep` blocks, from as few memories as may be, so that the others can be freed. */
  letGo(keep: number): void {
    this.fresh = [];
    if (this.free.length <= keep) return;
    const byMemory = new Map<ArrayBufferLike, Buffer[]>();
    for (const block of this.free) {
      const same = byMemory.get(block.buffer);
      if (same) same.push(block);
      else byMemory.set(block.buffer, [block]);
    }
    this.free = [];
    for (const blocks of [...byMemory.values()].sort((a, b) => b.length - a.length)) {
      if (this.free.length + blocks.length <= keep) this.free.push(...blocks);
    }
  }

  /** Blocks kept for reuse. */
  get kept(): number {
    return this.free.length;
  }

  get keptMemories(): number {
    return new Set(this.free.map((block) => block.buffer)).size;
  }
}

/** The blocks of every upload in this process: small ones, with the line for them, and large ones. */
class BlockPool {
  readonly small = new Shelf(BLOCK_SIZE, IDLE_RESERVE, POOL_LIMIT);
  readonly large = new Shelf(LARGE_BLOCK_SIZE, LARGE_LIMIT, LARGE_LIMIT);
  private readonly idle = new IdleRelease([
    { afterMs: TRIM_MS, run: () => this.letGo(IDLE_RESERVE) },
    { afterMs: POOL_IDLE_MS, run: () => this.letGo(0) },
  ]);
  /** Bodies waiting for a block, in turn, with when each began to wait. */
  private readonly waiters: Array<{ body: BodyBlocks; since: number }> = [];
  /** Bodies let through that have not taken their block yet: it is theirs. */
  private passes = 0;
  private overdue: NodeJS.Timeout | undefined;
  /** Bodies let through past BLOCK_LIMIT after waiting BLOCK_WAIT_MS, since the start. */
  overdueGrants = 0;

  /** A small block for a body; `passed`: one the pool let through (its pass is used up). */
  take(passed = false): Buffer {
    if (passed) this.passes--;
    return this.small.take();
  }

  /** A large block, unless LARGE_LIMIT are out; `passed` as for take(). */
  takeLarge(passed = false): Buffer | undefined {
    if (this.large.out >= LARGE_LIMIT) return undefined;
    if (passed) {
      this.passes--;
      this.letThrough();
    }
    return this.large.take();
  }

  give(block: Buffer): void {
    if (block.length === LARGE_BLOCK_SIZE) return this.large.give(block);
    this.small.give(block);
    this.letThrough();
  }

  /** Whether a body that needs a block must wait for one (see BLOCK_LIMIT); those waiting go first. */
  get exhausted(): boolean {
    return !this.spare || this.waiters.length > 0;
  }

  /** Small blocks out and reserved for bodies let through are below BLOCK_LIMIT. */
  private get spare(): boolean {
    return this.small.out + this.passes < BLOCK_LIMIT;
  }

  /** Lets bodies in line through, in turn, while blocks are to spare; each takes one as it reads on. */
  private letThrough(): void {
    while (this.waiters.length > 0 && this.spare) this.pass(this.waiters.shift()!.body);
  }

  private pass(body: BodyBlocks): void {
    this.passes++;
    body.granted();
  }

  /** A body let through ended without taking its block. */
  unused(): void {
    this.passes--;
    this.letThrough();
  }

  /** `body` waits for a block: granted() is called once one is to spare, or once it waited BLOCK_WAIT_MS. */
  wait(body: BodyBlocks): void {
    this.waiters.push({ body, since: Date.now() });
    if (!this.overdue) this.check(BLOCK_WAIT_MS);
  }

  /** Bodies in line for a block. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** `body` no longer waits (it ended or failed). */
  forget(body: BodyBlocks): void {
    const at = this.waiters.findIndex((w) => w.body === body);
    if (at >= 0) this.waiters.splice(at, 1);
  }

  /** In `ms`, lets every body that has waited BLOCK_WAIT_MS by then go on. */
  private check(ms: number): void {
    this.overdue = setTimeout(() => {
      this.overdue = undefined;
      const due = Date.now() - BLOCK_WAIT_MS;
      while (this.waiters.length > 0 && this.waiters[0]!.since <= due) {
        this.overdueGrants++;
        this.pass(this.waiters.shift()!.body);
      }
      if (this.waiters.length > 0) this.check(this.waiters[0]!.since - due);
    }, ms).unref();
  }

  /** An upload starts using blocks. */
  enter(): void {
    this.idle.enter();
  }

  leave(): void {
    this.idle.leave();
  }

  private letGo(keepSmall: number): void {
    this.small.letGo(keepSmall);
    this.large.letGo(0);
    reclaimLetGo();
  }
}

const pool = new BlockPool();

/**
 * Small blocks held by uploads right now (`out`), kept for reuse (`free`), the memories those kept
 * are cut from, bodies in line for a block (`waiting`), those let through past BLOCK_LIMIT so far
 * (`overdue`), and large blocks held and kept: tests check that bodies give theirs back, that an
 * idle pool lets memories go, and that a crowd of bodies stays within the limits.
 */
export function blockCounts(): { out: number; free: number; memories: number; waiting: number; overdue: number; largeOut: number; largeFree: number } {
  const { small, large } = pool;
  return { out: small.out, free: small.kept, memories: small.keptMemories, waiting: pool.waiting, overdue: pool.overdueGrants, largeOut: large.out, largeFree: large.kept };
}

/** What a body's reader is told by its blocks: read on, hold on, or stop (a block could not be stored). */
export interface ReadControl {
  pause(): void;
  resume(): void;
  failed(err: unknown): void;
}

/**
 * The blocks of one body. Its reader puts bytes in (read in place into `space()`, or copied in),
 * full blocks are stored one after another while the next fills, and the reader is paused while
 * QUEUED_LIMIT blocks wait for storage, or while the body waits in line for a block (BLOCK_LIMIT).
 * A block is taken from the pool only when bytes are about to go in, so a body that ends on a
 * block boundary, or one paused, holds no empty block. Every byte goes to the sink's `data` as it
 * is put in.
 */
export class BodyBlocks {
  private current: Buffer | undefined;
  private filled = 0;
  private bytes = 0;
  private queued = 0;
  private paused = false;
  /** In the pool's line for a block (it had none to spare). */
  private waiting = false;
  /** Let through by the pool: takes its next block whether or not the pool has one to spare. */
  private passed = false;
  private failure: { err: unknown } | undefined;
  private released = false;
  /** end() or abort() was called: no more bytes come. */
  private over = false;
  /** The blocks handed to storage, one after another. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: BodySink,
    private readonly control: ReadControl,
    /** The body's length, when its request declared it. */
    private readonly length?: number,
  ) {
    pool.enter();
    this.steer();
  }

  /** Bytes put in so far. */
  get size(): number {
    return this.bytes;
  }

  /** Bytes in the current block so far: space() starts there. */
  get offset(): number {
    return this.filled;
  }

  /** Whether the reader was told to hold on (blocks wait for storage, or the body for a block). */
  get holding(): boolean {
    return this.paused;
  }

  /** Where the next bytes may be read into: the rest of the current block (taken from the pool if need be). */
  space(): Buffer {
    return this.block().subarray(this.filled);
  }

  private block(): Buffer {
    if (this.current) return this.current;
    const passed = this.passed;
    this.passed = false;
    const large = this.wantsLarge() ? pool.takeLarge(passed) : undefined;
    return (this.current = large ?? pool.take(passed));
  }

  /** A large block is worth it: at least one is still to come, or (length unknown) has come already. */
  private wantsLarge(): boolean {
    return (this.length === undefined ? this.bytes : this.length - this.bytes) >= LARGE_BLOCK_SIZE;
  }

  /** `n` bytes were read into the start of space(). */
  placed(n: number): void {
    if (n === 0) return;
    const block = this.block();
    this.sink.data(block.subarray(this.filled, this.filled + n));
    this.filled += n;
    this.bytes += n;
    if (this.filled === block.length) this.store();
  }

  /**
   * `n` bytes were read into the current block at `from` (at or after offset, with framing bytes
   * between): moves them down to offset and places them.
   */
  compact(from: number, n: number): void {
    if (from !== this.filled) this.block().copyWithin(this.filled, from, from + n);
    this.placed(n);
  }

  /** Copies `bytes` in (a reader with buffers of its own). */
  copy(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length; ) {
      const block = this.block();
      const n = Math.min(bytes.length - at, block.length - this.filled);
      block.set(bytes.subarray(at, at + n), this.filled);
      this.placed(n);
      at += n;
    }
  }

  /** The body is complete: stores the rest; resolves with the body's length once all of it is stored. */
  async end(): Promise<number> {
    this.over = true;
    if (this.filled > 0 && !this.failure) this.store();
    await this.chain;
    this.release();
    if (this.failure) throw this.failure.err;
    return this.bytes;
  }

  /** The body failed: nothing more is stored; resolves once no block is being stored. */
  async abort(): Promise<void> {
    this.over = true;
    this.failure ??= { err: new Error('upload body aborted') };
    await this.chain;
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    if (this.waiting) pool.forget(this);
    if (this.passed) pool.unused();
    this.waiting = this.passed = false;
    if (this.current) pool.give(this.current);
    this.current = undefined;
    pool.leave();
  }

  /** The pool has a block for this body (or it waited long enough): it reads on unless storage holds it. */
  granted(): void {
    this.waiting = false;
    this.passed = true;
    this.steer();
  }

  /**
   * Tells the reader to hold on or read on. It holds on while this body's blocks wait for storage,
   * and, when it is about to need a block, while the pool has none to spare (it joins the line).
   */
  private steer(): void {
    const storing = this.queued >= QUEUED_LIMIT;
    if (!storing && !this.waiting && !this.passed && !this.current && !this.over && pool.exhausted) {
      this.waiting = true;
      pool.wait(this);
    }
    const hold = storing || this.waiting;
    if (hold && !this.paused) {
      this.paused = true;
      this.control.pause();
    } else if (!hold && this.paused && !this.failure) {
      this.paused = false;
      this.control.resume();
    }
  }

  /** Hands the current block to storage; the next is taken when bytes come. */
  private store(): void {
    const block = this.current!;
    const view = block.subarray(0, this.filled);
    this.current = undefined;
    this.filled = 0;
    this.queued++;
    this.steer();
    this.chain = this.chain.then(async () => {
      try {
        if (!this.failure) await this.sink.block(view);
      } catch (err) {
        this.failure = { err };
        this.control.failed(err);
      } finally {
        this.queued--;
        pool.give(block);
        this.steer();
      }
    });
  }
}

/** A body from a Readable (a TLS or HTTP/2 request, the library): its chunks are copied into blocks. */
export function readableBody(stream: Readable, length?: number): UploadBody {
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
        const blocks = new BodyBlocks(sink, { pause: () => stream.pause(), resume: () => stream.resume(), failed: fail }, length);
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
