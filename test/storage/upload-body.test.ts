/**
 * An upload body's blocks (src/storage/upload-body.ts): taken from the shared pool only when bytes
 * go in, given back when the body ends, fails or is aborted, and bounded over all uploads at once
 * (at BLOCK_LIMIT a body that needs a block waits in line for one, holding none); an idle pool
 * keeps IDLE_RESERVE small blocks (no large one) for a moment, then none. A body with a large
 * block or more to come takes large blocks while fewer than LARGE_LIMIT are out.
 * The HTTP side, with socket reads, is test/api/socket-reads.test.ts.
 */
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageAligned } from '../../src/storage/driver/aligned-memory.js';
import { BLOCK_LIMIT, BLOCK_SIZE, BLOCK_WAIT_MS, BodyBlocks, IDLE_RESERVE, LARGE_BLOCK_SIZE, LARGE_LIMIT, QUEUED_LIMIT, blockCounts, readableBody, type BodySink } from '../../src/storage/upload-body.js';

/** A sink whose block stores finish only when the test lets them (or fail, when told to). */
function heldSink() {
  const waiting: Array<() => void> = [];
  let failWith: Error | undefined;
  const stored: number[] = [];
  const sink: BodySink = {
    data: () => undefined,
    block: (block) =>
      new Promise<void>((resolve, reject) => {
        waiting.push(() => {
          if (failWith) return reject(failWith);
          stored.push(block.length);
          resolve();
        });
      }),
  };
  return {
    sink,
    stored,
    get waiting() {
      return waiting.length;
    },
    /** Finishes the oldest store and lets the promise chains run (the next block's store starts). */
    async finishOne() {
      await settled();
      waiting.shift()?.();
      await settled();
    },
    fail(err: Error) {
      failWith = err;
    },
  };
}

function control() {
  const c = { paused: false, pauses: 0, resumes: 0, failed: undefined as unknown };
  return {
    state: c,
    control: {
      pause: () => {
        c.paused = true;
        c.pauses++;
      },
      resume: () => {
        c.paused = false;
        c.resumes++;
      },
      failed: (err: unknown) => (c.failed = err),
    },
  };
}

const bytes = (n: number) => Buffer.alloc(n, 7);

/** Lets pending promise callbacks run: blocks are handed to storage from a promise chain. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

async function drain(h: ReturnType<typeof heldSink>): Promise<void> {
  await settled();
  while (h.waiting > 0) await h.finishOne();
}

/** A body whose stores wait for the test, and what its reader was told. */
function heldBody(length?: number) {
  const h = heldSink();
  const c = control();
  return { h, c, blocks: new BodyBlocks(h.sink, c.control, length) };
}

/** Bodies part-way through a block each, until BLOCK_LIMIT blocks are out: none of them waits. */
function holdToLimit() {
  const holders = Array.from({ length: BLOCK_LIMIT - blockCounts().out }, () => heldBody());
  for (const b of holders) b.blocks.copy(bytes(1000));
  return holders;
}

/** Ends the bodies and lets each store its blocks. */
async function endAll(bodies: Array<ReturnType<typeof heldBody>>): Promise<void> {
  const ends = bodies.map((b) => b.blocks.end());
  await Promise.all(bodies.map((b) => drain(b.h)));
  await Promise.all(ends);
}

test('a body takes blocks only as bytes go in: none before the first byte, none empty after a body ending on a block boundary, and all back once it ends', async () => {
  const start = blockCounts().out;
  const h = heldSink();
  const blocks = new BodyBlocks(h.sink, control().control);
  assert.equal(blockCounts().out - start, 0, 'no block before any byte');
  blocks.copy(bytes(2 * BLOCK_SIZE));
  await settled();
  assert.equal(h.waiting, 1, 'the first full block is being stored, the second waits for it');
  assert.equal(blockCounts().out - start, 2, 'two full blocks, no empty third one');
  const ended = blocks.end();
  await drain(h);
  assert.equal(await ended, 2 * BLOCK_SIZE);
  assert.deepEqual(h.stored, [BLOCK_SIZE, BLOCK_SIZE]);
  assert.equal(blockCounts().out, start, 'every block back in the pool');
});

test('a body gives its blocks back when it is aborted mid-way and when storage fails', async () => {
  const start = blockCounts().out;
  const aborted = heldSink();
  const a = new BodyBlocks(aborted.sink, control().control);
  a.copy(bytes(BLOCK_SIZE + 1000)); // one block queued, one partly filled
  assert.equal(blockCounts().out - start, 2);
  const gone = a.abort();
  await drain(aborted);
  await gone;
  assert.equal(blockCounts().out, start, 'aborted: blocks back');

  const failing = heldSink();
  const c = control();
  const f = new BodyBlocks(failing.sink, c.control);
  failing.fail(new Error('disk full'));
  f.copy(bytes(2 * BLOCK_SIZE + 10));
  const ended = f.end().then(() => undefined, (err: unknown) => err);
  await drain(failing);
  assert.match(String(await ended), /disk full/, 'the body fails with the store');
  assert.match(String(c.state.failed), /disk full/, 'the reader is told');
  assert.equal(blockCounts().out, start, 'failed: blocks back');
});

test(`a body reads ahead by ${QUEUED_LIMIT} blocks: paused while they wait for storage, holding no empty one, and reads on once one is stored`, async () => {
  const start = blockCounts().out;
  const one = heldSink();
  const oneControl = control();
  const alone = new BodyBlocks(one.sink, oneControl.control);
  alone.copy(bytes(QUEUED_LIMIT * BLOCK_SIZE));
  assert.equal(oneControl.state.paused, true);
  assert.equal(blockCounts().out - start, QUEUED_LIMIT, 'the queued blocks, no empty one');
  await one.finishOne();
  assert.equal(oneControl.state.paused, false, 'reads on once a block is stored');
  const aloneEnded = alone.end();
  await drain(one);
  await aloneEnded;
  assert.equal(blockCounts().out, start, 'every block back in the pool');
});

test(`an idle pool soon keeps ${IDLE_RESERVE} small blocks and no large one, then none`, async () => {
  // Safety nets, not timings: the pool trims itself 250 ms after its last body and empties at 2 s.
  const until = async (free: number) => {
    for (const deadline = Date.now() + 30_000; blockCounts().free !== free; ) {
      assert.ok(Date.now() < deadline, `kept ${blockCounts().free}, waiting for ${free}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  // What earlier tests left is let go first, so these bodies' blocks come from fresh memories.
  await until(0);
  const bodies = Array.from({ length: IDLE_RESERVE * 3 }, () => heldBody());
  for (const b of bodies) b.blocks.copy(bytes(BLOCK_SIZE));
  const ends = bodies.map((b) => b.blocks.end());
  const large = heldBody(LARGE_BLOCK_SIZE);
  large.blocks.copy(bytes(LARGE_BLOCK_SIZE));
  ends.push(large.blocks.end());
  await drain(large.h);
  // Blocks come back one from each memory in turn, so keeping any IDLE_RESERVE of them would keep all three memories.
  for (let i = 0; i < bodies.length; i++) await drain(bodies[(i % 3) * IDLE_RESERVE + Math.floor(i / 3)]!.h);
  await Promise.all(ends);
  assert.ok(blockCounts().free >= IDLE_RESERVE * 3, `kept ${blockCounts().free} right after the bodies ended`);
  assert.equal(blockCounts().memories, 3, `the blocks came from ${blockCounts().memories} memories, ${IDLE_RESERVE} blocks to each`);
  assert.equal(blockCounts().largeFree, 1, 'the large block kept right after its body ended');
  await until(IDLE_RESERVE);
  assert.equal(blockCounts().memories, 1, 'the blocks kept are those of one memory, so that the others are freed');
  assert.equal(blockCounts().largeFree, 0, 'no large block kept once small ones are trimmed');
  await until(0);
});

test('blocks are page-aligned, so the filesystem driver writes them past the page cache from where they are', async () => {
  const h = heldSink();
  const seen: Uint8Array[] = [];
  const blocks = new BodyBlocks({ data: () => undefined, block: (block) => (seen.push(block), h.sink.block(block)) }, control().control);
  blocks.copy(bytes(BLOCK_SIZE * 2 + 100));
  const end = blocks.end();
  await drain(h);
  assert.equal(await end, BLOCK_SIZE * 2 + 100);
  assert.equal(seen.length, 3);
  for (const block of seen) assert.ok(pageAligned(block), `a block at offset ${block.byteOffset} of its memory`);
});

test(`at ${BLOCK_LIMIT} blocks out, a body that needs one waits in line, paused and holding none, and reads on in turn as blocks come back; one that waited ${BLOCK_WAIT_MS} ms takes one anyway`, async () => {
  const start = blockCounts().out;
  const holders = holdToLimit();
  assert.equal(blockCounts().out, BLOCK_LIMIT);
  assert.equal(holders.filter((b) => b.c.state.paused).length, 0);

  // Three more bodies: each is told to hold on before it takes anything.
  const [first, second, third] = [heldBody(), heldBody(), heldBody()];
  for (const b of [first, second, third]) assert.equal(b.c.state.paused, true, 'waits for a block');
  assert.equal(blockCounts().out, BLOCK_LIMIT, 'no block taken by a waiting body');
  // One that gives up while it waits leaves the line.
  await second.blocks.abort();

  // A holder ends: its block comes back and the first in line reads on, the next one still waits.
  const ended = holders[0]!.blocks.end();
  await drain(holders[0]!.h);
  await ended;
  assert.equal(first.c.state.paused, false, 'first in line reads on once a block is back');
  assert.equal(third.c.state.paused, true, 'the next waits on');
  first.blocks.copy(bytes(10));
  assert.equal(blockCounts().out, BLOCK_LIMIT, 'it took the block that came back');

  // No block comes back now: the next body in line takes one anyway once it has waited long enough.
  for (const deadline = Date.now() + 30_000; third.c.state.paused; await new Promise((r) => setTimeout(r, 10))) {
    assert.ok(Date.now() < deadline, 'still waiting after 30 s');
  }
  third.blocks.copy(bytes(10));
  assert.equal(blockCounts().out, BLOCK_LIMIT + 1);

  await endAll([...holders.slice(1), first, third]);
  assert.equal(blockCounts().out, start, 'every block back in the pool');
});

test('a body read from a stream (TLS, HTTP/2) waits in line too: its stream stays paused until a block is to spare, then it arrives whole', async () => {
  const start = blockCounts().out;
  const holders = holdToLimit();

  const stream = new PassThrough();
  const hashed: number[] = [];
  const delivered = readableBody(stream).deliver({ data: (piece) => void hashed.push(piece.length), block: async () => undefined });
  stream.end(bytes(BLOCK_SIZE + 10));
  await settled();
  assert.equal(hashed.length, 0, 'nothing read while it waits');
  assert.equal(blockCounts().waiting, 1);

  await endAll(holders);
  assert.equal(await delivered, BLOCK_SIZE + 10);
  assert.equal(blockCounts().out, start, 'every block back in the pool');
});

test('a body with a large block or more still to come stores large blocks, page-aligned, and small ones for its rest; one of unknown length takes large ones once that much has come', async () => {
  const L = LARGE_BLOCK_SIZE;
  const start = blockCounts();
  const cases = [
    { length: 2 * L + 1000, stored: [L, L, 1000] },
    { length: undefined, stored: [...Array<number>(L / BLOCK_SIZE).fill(BLOCK_SIZE), L, 1000] },
    { length: L - 1, stored: [...Array<number>(L / BLOCK_SIZE - 1).fill(BLOCK_SIZE), BLOCK_SIZE - 1] },
  ];
  for (const { length, stored } of cases) {
    const seen: Uint8Array[] = [];
    const h = heldSink();
    const blocks = new BodyBlocks({ data: () => undefined, block: (block) => (seen.push(block), h.sink.block(block)) }, control().control, length);
    const total = stored.reduce((a, b) => a + b, 0);
    blocks.copy(bytes(total));
    const end = blocks.end();
    await drain(h);
    assert.equal(await end, total);
    assert.deepEqual(h.stored, stored, `declared length ${length}`);
    for (const block of seen) assert.ok(pageAligned(block), `a block of ${block.length} bytes at offset ${block.byteOffset} of its memory`);
  }
  assert.equal(blockCounts().out, start.out, 'every small block back in the pool');
  assert.equal(blockCounts().largeOut, start.largeOut, 'every large block back in the pool');
});

test(`at ${LARGE_LIMIT} large blocks out, a body with a large block to come takes small ones instead, and large ones again once they are back`, async () => {
  const L = LARGE_BLOCK_SIZE;
  const start = blockCounts();
  const big = heldBody(LARGE_LIMIT * L);
  big.blocks.copy(bytes(LARGE_LIMIT * L)); // all large, all waiting for storage
  assert.equal(blockCounts().largeOut, LARGE_LIMIT);
  const next = heldBody(2 * L);
  next.blocks.copy(bytes(1000));
  assert.equal(blockCounts().largeOut, LARGE_LIMIT, 'no large block past the limit');
  assert.equal(blockCounts().out - start.out, 1, 'a small block instead');
  await drain(big.h);
  await big.blocks.end();
  next.blocks.copy(bytes(BLOCK_SIZE - 1000 + 10)); // fills the small block, the rest goes into a large one
  assert.equal(blockCounts().largeOut, 1, 'a large block again once they came back');
  const ended = next.blocks.end();
  await drain(next.h);
  assert.equal(await ended, BLOCK_SIZE + 10);
  assert.deepEqual(next.h.stored, [BLOCK_SIZE, 10]);
  assert.equal(blockCounts().out, start.out);
  assert.equal(blockCounts().largeOut, start.largeOut);
});

test('a body read from a stream with its length declared takes large blocks too', async () => {
  const stream = new PassThrough();
  const stored: number[] = [];
  const delivered = readableBody(stream, LARGE_BLOCK_SIZE + 10).deliver({ data: () => undefined, block: async (block) => void stored.push(block.length) });
  stream.end(bytes(LARGE_BLOCK_SIZE + 10));
  assert.equal(await delivered, LARGE_BLOCK_SIZE + 10);
  assert.deepEqual(stored, [LARGE_BLOCK_SIZE, 10]);
});
