/**
 * Crash safety: the registry runs as a separate process and is SIGKILLed in the middle of a
 * write. After a restart on the same storage, nothing half-written may be visible: no blob under
 * the digest being uploaded (neither over HTTP nor as a blob data file), no manifest revision, and
 * a fresh push of the same content must succeed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { startChildRegistry, type Registry } from '../helpers/registry.js';
import { digest, imageConfig, ociManifest, random, repoName, blob } from '../helpers/content.js';
import { getManifest, pushBlob, pushBlobs, startUpload, withQuery, putManifest } from '../helpers/push.js';
import { rawRequest, request } from '../helpers/http.js';

const V2 = ['docker', 'registry', 'v2'];
function blobData(root: string, d: string): string {
  const [alg, hex] = d.split(':') as [string, string];
  return path.join(root, ...V2, 'blobs', alg, hex.slice(0, 2), hex, 'data');
}
async function exists(p: string): Promise<boolean> {
  try { await access(p); return true; } catch { return false; }
}

/** Streams `data` in 256 KiB pieces; calls `onHalf` once `killAt` bytes have been handed over. */
function slowStream(data: Buffer, killAt: number, onHalf: () => void): Readable {
  let off = 0;
  let fired = false;
  return new Readable({
    read() {
      if (off >= data.length) { this.push(null); return; }
      const piece = data.subarray(off, off + 256 * 1024);
      off += piece.length;
      if (!fired && off >= killAt) {
        fired = true;
        // Give the server a moment to write what it has received, then kill it.
        setTimeout(onHalf, 150);
        return; // stop feeding: the request stays open with a partial body
      }
      setTimeout(() => this.push(piece), 1);
    },
  });
}

async function withRestart(fn: (first: Registry) => Promise<void>, after: (second: Registry) => Promise<void>): Promise<void> {
  const first = await startChildRegistry();
  let second: Registry | undefined;
  try {
    await fn(first);
    await first.kill!();
    second = await startChildRegistry({ base: first.base });
    await after(second);
  } finally {
    await first.kill?.().catch(() => undefined);
    await second?.stop({ keep: true }).catch(() => undefined);
    await rm(first.base, { recursive: true, force: true });
  }
}

test('SIGKILL during a streamed monolithic PUT: after restart the blob is absent and can be pushed again', async () => {
  const repo = repoName('crash');
  const data = random(16 * 1024 * 1024);
  const d = digest(data);
  await withRestart(async (reg) => {
    const { location } = await startUpload(reg, repo);
    let killed!: () => void;
    const killedP = new Promise<void>((r) => { killed = r; });
    const body = slowStream(data, 6 * 1024 * 1024, () => { void reg.kill!().then(killed); });
    const put = request(reg.url, 'PUT', withQuery(location, { digest: d }), { body, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length } })
      .then(() => 'completed', () => 'failed');
    await killedP;
    assert.equal(await put, 'failed', 'the PUT cannot complete: the server was killed');
  }, async (reg) => {
    assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 404);
    assert.equal(await exists(blobData(reg.root, d)), false, 'no blob data file for the digest');
    await pushBlob(reg, repo, data);
    const get = await reg.req('GET', `/v2/${repo}/blobs/${d}`);
    assert.equal(get.status, 200);
    assert.equal(digest(get.body), d);
  });
});

test('SIGKILL during chunked PATCHes: after restart the blob is absent and a fresh upload works', async () => {
  const repo = repoName('crash');
  const data = random(8 * 1024 * 1024);
  const d = digest(data);
  await withRestart(async (reg) => {
    let { location } = await startUpload(reg, repo);
    const first = await reg.req('PATCH', location, { body: data.subarray(0, 2 * 1024 * 1024), headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${2 * 1024 * 1024 - 1}` } });
    assert.equal(first.status, 202);
    location = new URL(first.header('location')!, reg.url).toString();
    let killed!: () => void;
    const killedP = new Promise<void>((r) => { killed = r; });
    const rest = data.subarray(2 * 1024 * 1024);
    const body = slowStream(rest, 2 * 1024 * 1024, () => { void reg.kill!().then(killed); });
    const patch = request(reg.url, 'PATCH', location, { body, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': rest.length } })
      .then(() => 'completed', () => 'failed');
    await killedP;
    assert.equal(await patch, 'failed', 'the PATCH cannot complete: the server was killed');
  }, async (reg) => {
    assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 404);
    assert.equal(await exists(blobData(reg.root, d)), false);
    await pushBlob(reg, repo, data);
    assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 200);
  });
});

test('SIGKILL during a manifest PUT: after restart neither tag nor digest resolves, and the PUT can be redone', async () => {
  const repo = repoName('crash');
  const config = imageConfig();
  const layer = blob(random(1000));
  const m = ociManifest({ config: config.descriptor, layers: [layer.descriptor], annotations: { pad: 'x'.repeat(200_000) } });
  await withRestart(async (reg) => {
    await pushBlobs(reg, repo, [config, layer]);
    const u = new URL(reg.url);
    const head = `PUT /v2/${repo}/manifests/crashed HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: ${m.mediaType}\r\nContent-Length: ${m.bytes.length}\r\n\r\n`;
    // Half the body, then the server dies while waiting for the rest.
    const pending = rawRequest(reg.url, Buffer.concat([Buffer.from(head), m.bytes.subarray(0, m.bytes.length >> 1)]), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    await reg.kill!();
    const res = await pending;
    assert.equal(res.status, 0, 'no response was sent for the partial manifest');
  }, async (reg) => {
    assert.equal((await getManifest(reg, repo, 'crashed')).status, 404);
    assert.equal((await getManifest(reg, repo, m.digest)).status, 404);
    const [alg, hex] = m.digest.split(':') as [string, string];
    assert.equal(await exists(path.join(reg.root, ...V2, 'repositories', repo, '_manifests', 'revisions', alg, hex, 'link')), false);
    const put = await putManifest(reg, repo, 'crashed', m);
    assert.equal(put.status, 201, put.text());
    const get = await getManifest(reg, repo, 'crashed');
    assert.ok(get.body.equals(m.bytes));
  });
});
