import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { blob, digest, random, repoName } from '../helpers/content.js';
import { assertError, getManifest, pushBlob, pushImage } from '../helpers/push.js';
import { rawRequest } from '../helpers/http.js';
import { deviation } from '../helpers/target.js';

let reg: Registry;
let noDelete: Registry;
const repo = repoName('blobs');
const data = random(4096 + 17);
const dgst = digest(data);

before(async () => {
  reg = await startRegistry();
  noDelete = await startRegistry({ deleteEnabled: false });
  await pushBlob(reg, repo, data);
});
after(async () => { await reg?.stop(); await noDelete?.stop(); });

test('GET blob returns the bytes with Content-Length, Docker-Content-Digest, ETag and Accept-Ranges', async () => {
  const res = await reg.req('GET', `/v2/${repo}/blobs/${dgst}`);
  assert.equal(res.status, 200);
  assert.ok(res.body.equals(data), 'body is the uploaded bytes');
  assert.equal(res.header('content-length'), String(data.length));
  assert.equal(res.header('docker-content-digest'), dgst);
  assert.ok((res.header('etag') ?? '').includes(dgst), `ETag ${res.header('etag')} names the digest`);
  assert.equal(res.header('accept-ranges'), 'bytes');
  assert.equal(digest(res.body), dgst);
});

test('HEAD blob answers 200 with the headers and no body', async () => {
  const res = await reg.req('HEAD', `/v2/${repo}/blobs/${dgst}`);
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 0);
  assert.equal(res.header('content-length'), String(data.length));
  assert.equal(res.header('docker-content-digest'), dgst);
});

test('GET blob with If-None-Match of its ETag answers 304', async () => {
  const first = await reg.req('GET', `/v2/${repo}/blobs/${dgst}`);
  const res = await reg.req('GET', `/v2/${repo}/blobs/${dgst}`, { headers: { 'If-None-Match': first.header('etag')! } });
  assert.equal(res.status, 304);
  assert.equal(res.body.length, 0);
});

test('Range request answers 206 with Content-Range and exactly the requested bytes', async () => {
  const res = await reg.req('GET', `/v2/${repo}/blobs/${dgst}`, { headers: { Range: 'bytes=100-199' } });
  assert.equal(res.status, 206);
  assert.equal(res.header('content-range'), `bytes 100-199/${data.length}`);
  assert.equal(res.header('content-length'), '100');
  assert.ok(res.body.equals(data.subarray(100, 200)));
});

test('open-ended and suffix ranges resume a download', async () => {
  const open = await reg.req('GET', `/v2/${repo}/blobs/${dgst}`, { headers: { Range: 'bytes=4000-' } });
  assert.equal(open.status, 206);
  assert.equal(open.header('content-range'), `bytes 4000-${data.length - 1}/${data.length}`);
  assert.ok(open.body.equals(data.subarray(4000)));
  const suffix = await reg.req('GET', `/v2/${repo}/blobs/${dgst}`, { headers: { Range: 'bytes=-10' } });
  assert.equal(suffix.status, 206);
  assert.ok(suffix.body.equals(data.subarray(data.length - 10)));
});

test('a range that ends past the blob is clipped to the blob', async () => {
  const res = await reg.req('GET', `/v2/${repo}/blobs/${dgst}`, { headers: { Range: `bytes=4100-999999` } });
  assert.equal(res.status, 206);
  assert.equal(res.header('content-range'), `bytes 4100-${data.length - 1}/${data.length}`);
  assert.ok(res.body.equals(data.subarray(4100)));
});

test('an unsatisfiable range answers 416 with Content-Range bytes */size', async () => {
  // Raw socket: reads the status and headers even when the server frames the body badly.
  const u = new URL(reg.url);
  const res = await rawRequest(reg.url, `GET /v2/${repo}/blobs/${dgst} HTTP/1.1\r\nHost: ${u.host}\r\nRange: bytes=${data.length + 10}-${data.length + 20}\r\nConnection: close\r\n\r\n`);
  assert.equal(res.status, 416);
  assert.equal(res.headers['content-range'], `bytes */${data.length}`);
});

test('the 416 answer to an unsatisfiable range is a well-framed HTTP response', deviation('unsatisfiableRangeFraming'), async () => {
  const res = await reg.req('GET', `/v2/${repo}/blobs/${dgst}`, { headers: { Range: `bytes=${data.length + 10}-` } });
  assert.equal(res.status, 416);
  assert.equal(res.header('content-range'), `bytes */${data.length}`);
  // the connection is still usable afterwards
  assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${dgst}`)).status, 200);
});

test('unknown blob: GET answers 404 BLOB_UNKNOWN, HEAD answers 404 without a body', async () => {
  const unknown = digest(random(32));
  const get = await reg.req('GET', `/v2/${repo}/blobs/${unknown}`);
  assertError(get, 404, 'BLOB_UNKNOWN');
  const head = await reg.req('HEAD', `/v2/${repo}/blobs/${unknown}`);
  assert.equal(head.status, 404);
  assert.equal(head.body.length, 0);
});

test('a blob pushed to one repository is not served through another', async () => {
  const other = repoName('blobs-other');
  await pushBlob(reg, other, random(10));
  const res = await reg.req('GET', `/v2/${other}/blobs/${dgst}`);
  assertError(res, 404, 'BLOB_UNKNOWN');
});

test('blob in a repository that does not exist answers 404', async () => {
  const res = await reg.req('GET', `/v2/${repoName('nowhere')}/blobs/${dgst}`);
  assertError(res, 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
});

test('a manifest digest is no blob: GET, HEAD and DELETE on /blobs/ answer 404 BLOB_UNKNOWN until it is pushed as a layer', async () => {
  // As in Distribution: the blobs endpoint reaches what the repository links as a layer
  // (_layers), never its manifest revisions, although manifests are stored as blobs too.
  const r = repoName('blobs-man');
  const img = await pushImage(reg, r, 'v1');
  const path = `/v2/${r}/blobs/${img.manifest.digest}`;
  assertError(await reg.req('GET', path), 404, 'BLOB_UNKNOWN');
  const head = await reg.req('HEAD', path);
  assert.equal(head.status, 404);
  assert.equal(head.body.length, 0);
  assertError(await reg.req('DELETE', path), 404, 'BLOB_UNKNOWN');
  // the manifest itself is untouched
  assert.equal((await getManifest(reg, r, img.manifest.digest, 'HEAD')).status, 200);
  // pushed as a blob, the same bytes are a layer of the repository: served, then unlinked by DELETE
  await pushBlob(reg, r, img.manifest.bytes);
  const get = await reg.req('GET', path);
  assert.equal(get.status, 200);
  assert.ok(get.body.equals(img.manifest.bytes));
  assert.equal((await reg.req('DELETE', path)).status, 202);
  assertError(await reg.req('GET', path), 404, 'BLOB_UNKNOWN');
  assert.equal((await getManifest(reg, r, img.manifest.digest, 'HEAD')).status, 200, 'the manifest outlives its blob link');
});

test('malformed digests answer 400 DIGEST_INVALID, never a server error', async () => {
  for (const bad of ['sha256:xyz', `sha256:${'a'.repeat(63)}`, `sha256:${'A'.repeat(64)}x`, 'sha256:', 'sha256']) {
    const res = await reg.req('GET', `/v2/${repo}/blobs/${bad}`);
    if (bad === 'sha256' || bad === 'sha256:') {
      // Not digest-shaped at all: no route matches, or the digest is rejected.
      assert.ok([400, 404].includes(res.status), `${bad}: ${res.status}`);
      continue;
    }
    assertError(res, 400, 'DIGEST_INVALID', bad);
  }
});

test('DELETE blob answers 202, then the blob is gone from the repository', async () => {
  const b = blob(random(300));
  await pushBlob(reg, repo, b.data);
  const del = await reg.req('DELETE', `/v2/${repo}/blobs/${b.digest}`);
  assert.equal(del.status, 202);
  assert.equal(del.body.length, 0);
  const get = await reg.req('GET', `/v2/${repo}/blobs/${b.digest}`);
  assertError(get, 404, 'BLOB_UNKNOWN');
  const head = await reg.req('HEAD', `/v2/${repo}/blobs/${b.digest}`);
  assert.equal(head.status, 404);
});

test('DELETE of an unknown blob answers 404 BLOB_UNKNOWN', async () => {
  const res = await reg.req('DELETE', `/v2/${repo}/blobs/${digest(random(8))}`);
  assertError(res, 404, 'BLOB_UNKNOWN');
});

test('DELETE with a malformed digest answers 400 DIGEST_INVALID', async () => {
  const res = await reg.req('DELETE', `/v2/${repo}/blobs/sha256:nothex`);
  assertError(res, 400, 'DIGEST_INVALID');
});

test('DELETE blob when storage.delete is disabled answers 405 UNSUPPORTED and keeps the blob', async () => {
  const r = repoName('nodelete');
  const d = await pushBlob(noDelete, r, random(100));
  const res = await noDelete.req('DELETE', `/v2/${r}/blobs/${d}`);
  assertError(res, 405, 'UNSUPPORTED');
  const head = await noDelete.req('HEAD', `/v2/${r}/blobs/${d}`);
  assert.equal(head.status, 200);
});

test('a download of several buffers serves exact bytes across buffer edges, and a client that hangs up does not disturb the next', async () => {
  // 9 MiB + 5 spans several of the server's reused 2 MiB read buffers, with a partial last one.
  const big = random(9 * 1024 * 1024 + 5);
  const bigDigest = digest(big);
  await pushBlob(reg, repo, big);
  const whole = await reg.req('GET', `/v2/${repo}/blobs/${bigDigest}`);
  assert.equal(whole.status, 200);
  assert.equal(digest(whole.body), bigDigest);
  const from = 2 * 1024 * 1024 - 3;
  const part = await reg.req('GET', `/v2/${repo}/blobs/${bigDigest}`, { headers: { Range: `bytes=${from}-${from + 4 * 1024 * 1024}` } });
  assert.equal(part.status, 206);
  assert.ok(part.body.equals(big.subarray(from, from + 4 * 1024 * 1024 + 1)));
  // Hang up after the first bytes, several times, then download again.
  const { request } = await import('node:http');
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve, reject) => {
      const req = request(`${reg.url}/v2/${repo}/blobs/${bigDigest}`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end();
    });
  }
  const again = await reg.req('GET', `/v2/${repo}/blobs/${bigDigest}`);
  assert.equal(again.status, 200);
  assert.equal(digest(again.body), bigDigest);
});
