/**
 * Streaming, not buffering: a 1 GiB blob is uploaded and downloaded through a registry running
 * as a child process while its resident set (VmRSS in /proc/<pid>/status) is sampled. The peak
 * must stay within RSS_BOUND of the idle RSS measured just before the transfer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { startChildRegistry } from '../helpers/registry.js';
import { repoName } from '../helpers/content.js';
import { pushBlob, startUpload, withQuery } from '../helpers/push.js';

const SIZE = 1024 * 1024 * 1024;
const PIECE = 1024 * 1024;
const RSS_BOUND = 64 * 1024 * 1024;

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * The same 1 MiB random block repeated, with the piece number stamped in so every MiB differs,
 * hashed as it is produced (the digest is known once the stream has ended).
 */
function content(): { stream: Readable; digest: () => string } {
  const block = randomBytes(PIECE);
  const h = createHash('sha256');
  let i = 0;
  const stream = new Readable({
    read() {
      if (i >= SIZE / PIECE) { this.push(null); return; }
      const b = Buffer.from(block);
      b.writeUInt32BE(i++, 0);
      h.update(b);
      this.push(b);
    },
  });
  return { stream, digest: () => `sha256:${h.digest('hex')}` };
}

test('a 1 GiB upload and download keep the registry RSS within 64 MiB of idle', { timeout: 600_000 }, async (t) => { // a hang guard only: a loaded machine moves 2 GiB slowly
  const reg = await startChildRegistry();
  try {
    const pid = reg.pid!;
    const repo = repoName('mem');
    // Warm up code paths (upload, commit, download) before measuring idle.
    const warm = randomBytes(64 * 1024);
    const wd = await pushBlob(reg, repo, warm);
    await reg.req('GET', `/v2/${repo}/blobs/${wd}`);
    await new Promise((r) => setTimeout(r, 300));
    const idle = rss(pid);
    let peak = idle;
    const sampler = setInterval(() => { peak = Math.max(peak, rss(pid)); }, 50);
    try {
      const c = content();
      const { location } = await startUpload(reg, repo);
      // One streamed PATCH (the whole GiB), then PUT ?digest= to close.
      const patch = await reg.req('PATCH', location, { body: c.stream, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': SIZE } });
      assert.equal(patch.status, 202, patch.text());
      assert.equal(patch.header('range'), `0-${SIZE - 1}`);
      const dgst = c.digest();
      const put = await reg.req('PUT', withQuery(new URL(patch.header('location')!, reg.url).toString(), { digest: dgst }));
      assert.equal(put.status, 201, put.text());
      // Download and verify without buffering on the client either.
      const got = await new Promise<{ status: number; size: number; digest: string }>((resolve, reject) => {
        const u = new URL(`${reg.url}/v2/${repo}/blobs/${dgst}`);
        http.get(u, (res) => {
          const h = createHash('sha256');
          let size = 0;
          res.on('data', (b: Buffer) => { size += b.length; h.update(b); });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, size, digest: `sha256:${h.digest('hex')}` }));
          res.on('error', reject);
        }).on('error', reject);
      });
      assert.equal(got.status, 200);
      assert.equal(got.size, SIZE);
      assert.equal(got.digest, dgst);
    } finally {
      clearInterval(sampler);
    }
    const grew = peak - idle;
    t.diagnostic(`idle RSS ${(idle / 1048576).toFixed(1)} MiB, peak ${(peak / 1048576).toFixed(1)} MiB, growth ${(grew / 1048576).toFixed(1)} MiB`);
    assert.ok(grew <= RSS_BOUND, `RSS grew by ${(grew / 1048576).toFixed(1)} MiB (idle ${(idle / 1048576).toFixed(1)} MiB, peak ${(peak / 1048576).toFixed(1)} MiB); bound ${RSS_BOUND / 1048576} MiB`);
  } finally {
    await reg.stop();
  }
});
