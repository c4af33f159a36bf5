/**
 * Downloads share one budget of read buffers (src/api/send-file.ts): a lone download reads four
 * chunks ahead, a crowd of downloads together holds the budget plus one buffer for each download
 * past it, and every buffer is back (held 0, at most the budget kept) once they are done; every
 * body arrives whole. The downloads are kept in progress by clients that do not read until told.
 * Once downloads are idle the kept buffers are let go, and with node's gc exposed (as bin/berth
 * starts it; here through V8's flag) their memory is reclaimed at once (src/reclaim.ts).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { downloadBuffers } from '../../src/api/send-file.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { repoName } from '../helpers/content.js';
import { pushBlob } from '../helpers/push.js';

// What --expose-gc gives, for this process (the test runner starts it without).
setFlagsFromString('--expose-gc');
(globalThis as { gc?: unknown }).gc ??= runInNewContext('gc');

const BUDGET = 16;
const SLOTS = 4;
/** Larger than what the read-ahead and both sockets' kernel buffers hold, so a paused client holds its download open. */
const SIZE = 48 * 1024 * 1024;

interface Paused {
  /** Resolves with the body's sha256 once the client has read it all. */
  done: Promise<string>;
  resume(): void;
}

/** A GET whose body is not read until resume() (which may come before the response has). */
function pausedGet(url: string): Paused {
  let resumed = false;
  let response: http.IncomingMessage | undefined;
  const done = new Promise<string>((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`GET ${url}: ${res.statusCode}`));
      response = res;
      if (!resumed) res.pause();
      const hash = createHash('sha256');
      res.on('data', (c: Buffer) => hash.update(c));
      res.on('end', () => resolve(`sha256:${hash.digest('hex')}`));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  return {
    done,
    resume() {
      resumed = true;
      response?.resume();
    },
  };
}

/** Waits (bounded: a safety net, not a timing) until the downloads hold `count` buffers. */
async function untilHeld(count: number): Promise<void> {
  for (const deadline = Date.now() + 30_000; downloadBuffers().held !== count; ) {
    assert.ok(Date.now() < deadline, `downloads hold ${downloadBuffers().held} buffers, expected ${count}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('download buffers', () => {
  let reg: Registry;
  let url = '';
  let digest = '';
  before(async () => {
    reg = await startRegistry();
    const repo = repoName('dl');
    const data = randomBytes(SIZE);
    digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    await pushBlob(reg, repo, data);
    url = `${reg.url}/v2/${repo}/blobs/${digest}`;
  });
  after(() => reg.stop());

  it('a lone download reads ahead with four buffers, and gives them back', async () => {
    const one = pausedGet(url);
    try {
      await untilHeld(SLOTS);
    } finally {
      one.resume(); // also after a failure: a paused download would hold the server's close
    }
    assert.equal(await one.done, digest);
    await untilHeld(0);
    assert.ok(downloadBuffers().kept <= BUDGET);
  });

  it('ten downloads at once hold the budget and one buffer each past it', async () => {
    const downloads = Array.from({ length: 10 }, () => pausedGet(url));
    // Four downloads reach the budget with four each; each of the six others holds one.
    try {
      await untilHeld(BUDGET + 6);
    } finally {
      for (const d of downloads) d.resume();
    }
    for (const d of downloads) assert.equal(await d.done, digest);
    await untilHeld(0);
    assert.ok(downloadBuffers().kept <= BUDGET, `kept ${downloadBuffers().kept}`);
  });

  it('lets the kept buffers go once downloads are idle, and their memory with them', async () => {
    const arrayBuffers = () => process.memoryUsage().arrayBuffers;
    const downloads = Array.from({ length: 4 }, () => pausedGet(url));
    try {
      await untilHeld(BUDGET);
    } finally {
      for (const d of downloads) d.resume();
    }
    for (const d of downloads) assert.equal(await d.done, digest);
    await untilHeld(0);
    assert.equal(downloadBuffers().kept, BUDGET);
    const kept = arrayBuffers();
    // A safety net, not a timing: the pool lets go 1 s after the last download.
    for (const deadline = Date.now() + 30_000; downloadBuffers().kept > 0; ) {
      assert.ok(Date.now() < deadline, 'the kept buffers were never let go');
      await new Promise((r) => setTimeout(r, 50));
    }
    const budgetBytes = BUDGET * 2 * 1024 * 1024;
    // Bounded well below V8's own memory reducer (its first collection comes 8 s after the heap went
    // quiet, and only then): a drop before the bound is the collection reclaimLetGo asked for.
    for (const deadline = Date.now() + 5_000; kept - arrayBuffers() < budgetBytes * 0.9; ) {
      assert.ok(Date.now() < deadline, `ArrayBuffers ${arrayBuffers()} after letting go, ${kept} before`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
