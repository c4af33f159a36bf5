import type { ServerResponse } from 'node:http';
import type { RandomAccessFile } from '../storage/driver/types.js';
import { drained } from '../drained.js';
import { IdleRelease, reclaimLetGo } from '../reclaim.js';

const CHUNK = 2 * 1024 * 1024;
/** Reads kept ahead of the socket per download (so a download holds at most SLOTS × CHUNK). */
const SLOTS = 4;
/**
 * Buffers downloads hold and keep together (32 MiB). Past it a download reads ahead with what the
 * pool has, and with one buffer of its own at least, so none waits for another; a buffer given
 * back past it is left to the garbage collector. Without it a burst of downloads allocated four
 * fresh buffers each while the pool was empty, and those stayed resident until V8 collected them.
 */
const BUDGET = 16;
/**
 * Once no download has run for this long the kept buffers are let go too: they are only worth
 * keeping while downloads follow each other, and otherwise stay resident (8–32 MiB) under
 * whatever the process does next, e.g. a burst of uploads (docs/performance.md).
 */
const POOL_IDLE_MS = 1000;
const pool: Buffer[] = [];
/** Buffers held by downloads in progress. */
let held = 0;
const downloads = new IdleRelease([
  {
    afterMs: POOL_IDLE_MS,
    run: () => {
      if (pool.length === 0) return;
      pool.length = 0;
      reclaimLetGo();
    },
  },
]);

/** Up to SLOTS buffers for one download: pooled ones, then fresh ones while within BUDGET (one at least). */
function take(): Buffer[] {
  const buffers: Buffer[] = [];
  while (buffers.length < SLOTS) {
    const pooled = pool.pop();
    if (pooled) buffers.push(pooled);
    else if (buffers.length === 0 || held + buffers.length < BUDGET) buffers.push(Buffer.allocUnsafeSlow(CHUNK));
    else break;
  }
  held += buffers.length;
  return buffers;
}

function give(buffers: Buffer[]): void {
  held -= buffers.length;
  for (const b of buffers) if (held + pool.length < BUDGET) pool.push(b);
}

/** Buffers held by downloads and kept for the next ones: tests check the budget. */
export function downloadBuffers(): { held: number; kept: number } {
  return { held, kept: pool.length };
}

/**
 * Sends `length` bytes of `file` from `start` on `res`, through a few reused buffers with reads
 * kept ahead of the socket. A read stream allocates a fresh buffer per read instead, and that
 * external memory makes V8 run full collections whose cost grows with the live heap: about a
 * third of the throughput of a long download (docs/performance.md). A buffer is read into again
 * only once the socket has taken what it held. `sent` is called once the last byte is written out.
 */
export async function sendFile(file: RandomAccessFile, res: ServerResponse, start: number, length: number, sent?: () => void): Promise<void> {
  downloads.enter();
  const buffers = take();
  const slots = buffers.length;
  const written: Promise<void>[] = buffers.map(() => Promise.resolve());
  const reads: Array<Promise<number> | undefined> = new Array(slots);
  const end = start + length;
  let next = start;
  const readInto = (slot: number) => {
    const at = next;
    const want = Math.min(CHUNK, end - at);
    next += want;
    const read = written[slot]!.then(() => file.read(buffers[slot]!, want, at)).then((got) => {
      if (got !== want) throw new Error(`blob data ended early at byte ${at + got}`);
      return got;
    });
    // A failure of a read ahead (a store gone: every waiting read fails at once) is met when the
    // loop reaches it, or by the finally below; until then it must not count as unhandled.
    read.catch(() => undefined);
    reads[slot] = read;
  };
  try {
    for (let slot = 0; slot < slots && next < end; slot++) readInto(slot);
    for (let slot = 0, left = length; left > 0 && !res.destroyed; slot = (slot + 1) % slots) {
      const got = await reads[slot]!;
      left -= got;
      let flowing = true;
      written[slot] = new Promise<void>((resolve) => {
        flowing = res.write(buffers[slot]!.subarray(0, got), () => resolve());
      });
      if (next < end) readInto(slot);
      if (!flowing && !res.destroyed) await drained(res);
    }
    res.end();
    // Before the buffers and the file are let go: the client may have the whole body and send its
    // next request by the time that is done.
    sent?.();
  } finally {
    await Promise.allSettled(reads);
    await Promise.all(written);
    give(buffers);
    downloads.leave();
    await file.close();
  }
}
