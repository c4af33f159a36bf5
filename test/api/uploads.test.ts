import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { digest, random, repoName } from '../helpers/content.js';
import { assertError, pushBlob, pushBlobChunked, startUpload, withQuery } from '../helpers/push.js';
import { deviates, deviation } from '../helpers/target.js';

let reg: Registry;
before(async () => { reg = await startRegistry(); });
after(async () => { await reg?.stop(); });

const octet = { 'Content-Type': 'application/octet-stream' };

async function assertBlob(repo: string, dgst: string, data: Buffer): Promise<void> {
  const res = await reg.req('GET', `/v2/${repo}/blobs/${dgst}`);
  assert.equal(res.status, 200, `GET ${dgst}: ${res.status}`);
  assert.ok(res.body.equals(data), 'stored bytes equal the uploaded bytes');
}

/** The Offset signed into a Location's `_state` (base64url of a 32-byte MAC, then the JSON). */
function stateOffset(location: string): number {
  const state = new URL(location, reg.url).searchParams.get('_state')!;
  return (JSON.parse(Buffer.from(state, 'base64url').subarray(32).toString()) as { Offset: number }).Offset;
}

function uuidOf(location: string): string {
  const segs = new URL(location).pathname.split('/');
  return segs[segs.length - 1]!;
}

test('POST opens a session: 202, Location with the upload id, Docker-Upload-UUID, Range 0-0', async () => {
  const repo = repoName('up');
  const { location, res } = await startUpload(reg, repo);
  assert.equal(res.header('range'), '0-0');
  const id = res.header('docker-upload-uuid');
  assert.ok(id, 'Docker-Upload-UUID present');
  assert.equal(uuidOf(location), id, 'Location path ends with the upload id');
  assert.ok(new URL(location).pathname.startsWith(`/v2/${repo}/blobs/uploads/`));
  assert.equal(res.header('content-length'), '0');
});

test('single POST with ?digest= stores the blob: 201, Location, Docker-Content-Digest', deviation('monolithicPost'), async () => {
  const repo = repoName('up');
  const data = random(1000);
  const d = digest(data);
  const res = await reg.req('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { body: data, headers: octet });
  assert.equal(res.status, 201);
  assert.equal(res.header('docker-content-digest'), d);
  const loc = new URL(res.header('location')!, reg.url);
  const get = await reg.req('GET', loc.toString());
  assert.equal(get.status, 200);
  assert.ok(get.body.equals(data));
});

test('single POST with a digest that does not match the body: 400 DIGEST_INVALID, nothing stored under either digest', deviation('monolithicPost'), async () => {
  const repo = repoName('up');
  const data = random(1000);
  const claimed = digest(random(1000));
  const res = await reg.req('POST', `/v2/${repo}/blobs/uploads/?digest=${claimed}`, { body: data, headers: octet });
  assertError(res, 400, 'DIGEST_INVALID');
  assertError(await reg.req('GET', `/v2/${repo}/blobs/${claimed}`), 404, 'BLOB_UNKNOWN');
  assertError(await reg.req('GET', `/v2/${repo}/blobs/${digest(data)}`), 404, 'BLOB_UNKNOWN');
  assert.equal(existsSync(path.join(reg.root, 'docker/registry/v2/blobs/sha256', claimed.slice(7, 9), claimed.slice(7))), false, 'no blob data under the claimed digest');
  assert.deepEqual(await readdir(path.join(reg.root, 'docker/registry/v2/repositories', repo, '_uploads')).catch(() => []), [], 'no upload left behind');
});

test('POST then PUT with the whole blob: 201, pullable Location, Docker-Content-Digest', async () => {
  const repo = repoName('up');
  const data = random(2048);
  const d = digest(data);
  const { location } = await startUpload(reg, repo);
  const res = await reg.req('PUT', withQuery(location, { digest: d }), { body: data, headers: octet });
  assert.equal(res.status, 201);
  assert.equal(res.header('docker-content-digest'), d);
  const loc = new URL(res.header('location')!, reg.url);
  assert.equal(loc.pathname, `/v2/${repo}/blobs/${d}`);
  const get = await reg.req('GET', loc.toString());
  assert.ok(get.body.equals(data));
});

test('streamed PATCHes without Content-Range append in order', async () => {
  const repo = repoName('up');
  const parts = [random(700), random(1), random(3000)];
  const whole = Buffer.concat(parts);
  let { location } = await startUpload(reg, repo);
  const id = uuidOf(location);
  let total = 0;
  for (const p of parts) {
    const res = await reg.req('PATCH', location, { body: p, headers: octet });
    assert.equal(res.status, 202);
    total += p.length;
    assert.equal(res.header('range'), `0-${total - 1}`);
    assert.equal(res.header('docker-upload-uuid'), id);
    assert.equal(res.header('content-length'), '0');
    location = new URL(res.header('location')!, reg.url).toString();
  }
  const d = digest(whole);
  const put = await reg.req('PUT', withQuery(location, { digest: d }));
  assert.equal(put.status, 201);
  assert.equal(put.header('docker-content-digest'), d);
  await assertBlob(repo, d, whole);
});

test('chunked PATCHes with Content-Range, closed by a PUT without a body', async () => {
  const repo = repoName('up');
  const data = random(10_000);
  const d = await pushBlobChunked(reg, repo, data, 3000, digest(data));
  await assertBlob(repo, d, data);
});

test('the final chunk may come in the closing PUT', async () => {
  const repo = repoName('up');
  const data = random(5000);
  const d = digest(data);
  const { location } = await startUpload(reg, repo);
  const patch = await reg.req('PATCH', location, { body: data.subarray(0, 4000), headers: { ...octet, 'Content-Range': '0-3999' } });
  assert.equal(patch.status, 202);
  assert.equal(patch.header('range'), '0-3999');
  const next = new URL(patch.header('location')!, reg.url).toString();
  const put = await reg.req('PUT', withQuery(next, { digest: d }), { body: data.subarray(4000), headers: { ...octet, 'Content-Range': '4000-4999' } });
  assert.equal(put.status, 201, put.text());
  await assertBlob(repo, d, data);
});

test('the final chunk may come in the closing PUT without Content-Range', async () => {
  const repo = repoName('up');
  const data = random(3000);
  const d = digest(data);
  const { location } = await startUpload(reg, repo);
  const patch = await reg.req('PATCH', location, { body: data.subarray(0, 1000), headers: octet });
  assert.equal(patch.status, 202);
  const next = new URL(patch.header('location')!, reg.url).toString();
  const put = await reg.req('PUT', withQuery(next, { digest: d }), { body: data.subarray(1000), headers: octet });
  assert.equal(put.status, 201, put.text());
  await assertBlob(repo, d, data);
});

test('an out-of-order chunk answers 416 and the current Range; the upload can continue', deviation('outOfOrderChunk416'), async () => {
  const repo = repoName('up');
  const data = random(300);
  const { location } = await startUpload(reg, repo);
  const first = await reg.req('PATCH', location, { body: data.subarray(0, 100), headers: { ...octet, 'Content-Range': '0-99' } });
  assert.equal(first.status, 202);
  let loc = new URL(first.header('location')!, reg.url).toString();
  const gap = await reg.req('PATCH', loc, { body: data.subarray(200, 300), headers: { ...octet, 'Content-Range': '200-299' } });
  assert.equal(gap.status, 416);
  const status = await reg.req('GET', loc);
  assert.equal(status.status, 204);
  assert.equal(status.header('range'), '0-99');
  const overlap = await reg.req('PATCH', loc, { body: data.subarray(50, 150), headers: { ...octet, 'Content-Range': '50-149' } });
  assert.equal(overlap.status, 416);
  loc = new URL(status.header('location') ?? loc, reg.url).toString();
  const rest = await reg.req('PATCH', loc, { body: data.subarray(100), headers: { ...octet, 'Content-Range': '100-299' } });
  assert.equal(rest.status, 202);
  loc = new URL(rest.header('location')!, reg.url).toString();
  const put = await reg.req('PUT', withQuery(loc, { digest: digest(data) }));
  assert.equal(put.status, 201);
  await assertBlob(repo, digest(data), data);
});

test('out-of-order first chunk (not starting at 0) is refused with 416 and Range 0-0', deviation('outOfOrderChunk416'), async () => {
  const repo = repoName('up');
  const { location } = await startUpload(reg, repo);
  const res = await reg.req('PATCH', location, { body: random(10), headers: { ...octet, 'Content-Range': '5-14' } });
  assert.equal(res.status, 416);
  assert.equal(res.header('range'), '0-0');
});

test('a Content-Range whose length disagrees with the body answers 400 SIZE_INVALID', deviation('chunkLengthCheck'), async () => {
  const repo = repoName('up');
  const { location } = await startUpload(reg, repo);
  const res = await reg.req('PATCH', location, { body: random(10), headers: { ...octet, 'Content-Range': '0-99' } });
  assertError(res, 400, 'SIZE_INVALID');
});

test('a Content-Range outside the spec grammar is refused (400 or 416)', deviation('contentRangeFormat'), async () => {
  const repo = repoName('up');
  for (const bad of ['bytes 0-9/10', '0-', 'abc', '9-0']) {
    const { location } = await startUpload(reg, repo);
    const res = await reg.req('PATCH', location, { body: random(10), headers: { ...octet, 'Content-Range': bad } });
    assert.ok([400, 416].includes(res.status), `Content-Range ${bad}: status ${res.status}`);
  }
});

test('GET on an upload answers 204 with Range, Location and Docker-Upload-UUID', async () => {
  const repo = repoName('up');
  const { location } = await startUpload(reg, repo);
  const id = uuidOf(location);
  const fresh = await reg.req('GET', location);
  assert.equal(fresh.status, 204);
  assert.equal(fresh.header('range'), '0-0');
  assert.equal(fresh.header('docker-upload-uuid'), id);
  const patch = await reg.req('PATCH', location, { body: random(42), headers: octet });
  const loc = new URL(patch.header('location')!, reg.url).toString();
  const res = await reg.req('GET', loc);
  assert.equal(res.status, 204);
  assert.equal(res.body.length, 0);
  assert.equal(res.header('range'), '0-41');
  assert.equal(res.header('docker-upload-uuid'), id);
  assert.ok(res.header('location'), 'status has a Location');
  assert.equal(uuidOf(new URL(res.header('location')!, reg.url).toString()), id);
});

test('DELETE cancels an upload: 204, then the upload is unknown (404 BLOB_UPLOAD_UNKNOWN)', async () => {
  const repo = repoName('up');
  const { location } = await startUpload(reg, repo);
  const patch = await reg.req('PATCH', location, { body: random(100), headers: octet });
  const loc = new URL(patch.header('location')!, reg.url).toString();
  const del = await reg.req('DELETE', loc);
  assert.equal(del.status, 204);
  const status = await reg.req('GET', loc);
  assertError(status, 404, 'BLOB_UPLOAD_UNKNOWN');
  const again = await reg.req('PATCH', loc, { body: random(5), headers: octet });
  assertError(again, 404, 'BLOB_UPLOAD_UNKNOWN');
});

test('an upload URL without its _state answers BLOB_UPLOAD_INVALID on GET, PATCH, PUT and DELETE, and changes nothing', async () => {
  const invalidStatus = deviates('uploadInvalid404') ? 404 : 400;
  const repo = repoName('up');
  const { location } = await startUpload(reg, repo);
  const bare = new URL(location).pathname;
  for (const p of [bare, `/v2/${repo}/blobs/uploads/${randomUUID()}`]) {
    assertError(await reg.req('GET', p), invalidStatus, 'BLOB_UPLOAD_INVALID', `GET ${p}`);
    assertError(await reg.req('PATCH', p, { body: random(5), headers: octet }), invalidStatus, 'BLOB_UPLOAD_INVALID', `PATCH ${p}`);
    assertError(await reg.req('PUT', `${p}?digest=${digest(random(5))}`, { body: random(5), headers: octet }), invalidStatus, 'BLOB_UPLOAD_INVALID', `PUT ${p}`);
    assertError(await reg.req('DELETE', p), invalidStatus, 'BLOB_UPLOAD_INVALID', `DELETE ${p}`);
  }
  const after = await reg.req('GET', location);
  assert.equal(after.status, 204, 'the upload is still there');
  assert.equal(after.header('range'), '0-0', 'and holds nothing');
});

test('an upload id that is gone answers 404 BLOB_UPLOAD_UNKNOWN at its own Location', async () => {
  const repo = repoName('up');
  const { location } = await startUpload(reg, repo);
  assert.equal((await reg.req('DELETE', location)).status, 204);
  assertError(await reg.req('GET', location), 404, 'BLOB_UPLOAD_UNKNOWN', 'GET');
  assertError(await reg.req('PATCH', location, { body: random(5), headers: octet }), 404, 'BLOB_UPLOAD_UNKNOWN', 'PATCH');
  assertError(await reg.req('PUT', withQuery(location, { digest: digest(random(5)) }), { body: random(5), headers: octet }), 404, 'BLOB_UPLOAD_UNKNOWN', 'PUT');
  assertError(await reg.req('DELETE', location), 404, 'BLOB_UPLOAD_UNKNOWN', 'DELETE');
});

test('a PATCH or PUT from an out-of-date Location answers 416 with the current Range and a fresh Location; the upload is kept', deviation('staleUploadLocation'), async () => {
  const repo = repoName('up');
  const first = random(100);
  const second = random(50);
  const { location: stale } = await startUpload(reg, repo);
  const patched = await reg.req('PATCH', stale, { body: first, headers: octet });
  assert.equal(patched.status, 202);
  const current = new URL(patched.header('location')!, reg.url).toString();

  // The first Location says the upload holds 0 bytes; it holds 100.
  for (const [method, target, body] of [
    ['PATCH', stale, second],
    ['PUT', withQuery(stale, { digest: digest(Buffer.concat([first, second])) }), second],
    ['PUT', withQuery(stale, { digest: digest(first) }), undefined],
  ] as const) {
    const res = await reg.req(method, target, { body, headers: octet });
    assertError(res, 416, 'RANGE_INVALID', `${method} ${body ? 'with' : 'without'} a body`);
    assert.equal(res.header('range'), '0-99', method);
    assert.equal(stateOffset(res.header('location')!), 100, `${method}: a Location to continue from`);
  }
  // A GET at the old Location is how a client learns where to resume: answered, nothing cancelled.
  const status = await reg.req('GET', stale);
  assert.equal(status.status, 204);
  assert.equal(status.header('range'), '0-99');
  const done = await reg.req('PUT', withQuery(current, { digest: digest(Buffer.concat([first, second])) }), { body: second, headers: octet });
  assert.equal(done.status, 201);
  await assertBlob(repo, digest(Buffer.concat([first, second])), Buffer.concat([first, second]));
});

test('a completed upload cannot be used again', async () => {
  const repo = repoName('up');
  const data = random(64);
  const { location } = await startUpload(reg, repo);
  const put = await reg.req('PUT', withQuery(location, { digest: digest(data) }), { body: data, headers: octet });
  assert.equal(put.status, 201);
  const again = await reg.req('PATCH', location, { body: random(5), headers: octet });
  assertError(again, 404, 'BLOB_UPLOAD_UNKNOWN');
});

test('PUT without a digest answers 400 DIGEST_INVALID and the upload stays open', async () => {
  const repo = repoName('up');
  const data = random(50);
  const { location } = await startUpload(reg, repo);
  const res = await reg.req('PUT', location, { body: data, headers: octet });
  assertError(res, 400, 'DIGEST_INVALID');
});

test('PUT with a malformed digest answers 400 DIGEST_INVALID', async () => {
  const repo = repoName('up');
  const { location } = await startUpload(reg, repo);
  const res = await reg.req('PUT', withQuery(location, { digest: 'sha256:not-hex' }), { body: random(5), headers: octet });
  assertError(res, 400, 'DIGEST_INVALID');
});

test('digest mismatch answers 400 DIGEST_INVALID and neither digest becomes retrievable', async () => {
  const repo = repoName('up');
  const data = random(777);
  const claimed = digest(random(777));
  const { location } = await startUpload(reg, repo);
  const res = await reg.req('PUT', withQuery(location, { digest: claimed }), { body: data, headers: octet });
  assertError(res, 400, 'DIGEST_INVALID');
  assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${claimed}`)).status, 404);
  assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${digest(data)}`)).status, 404);
});

test('chunked upload closed with a wrong digest is refused and not retrievable', async () => {
  const repo = repoName('up');
  const data = random(900);
  const { location } = await startUpload(reg, repo);
  const patch = await reg.req('PATCH', location, { body: data, headers: { ...octet, 'Content-Range': '0-899' } });
  const loc = new URL(patch.header('location')!, reg.url).toString();
  const wrong = digest(Buffer.concat([data, Buffer.from('x')]));
  const res = await reg.req('PUT', withQuery(loc, { digest: wrong }));
  assertError(res, 400, 'DIGEST_INVALID');
  assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${wrong}`)).status, 404);
});

test('a zero-length blob uploads and downloads', async () => {
  const repo = repoName('up');
  const empty = Buffer.alloc(0);
  const d = digest(empty);
  assert.equal(d, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  await pushBlob(reg, repo, empty);
  const res = await reg.req('GET', `/v2/${repo}/blobs/${d}`);
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 0);
  assert.equal(res.header('content-length'), '0');
  assert.equal(res.header('docker-content-digest'), d);
});

test('sha512 digests: upload, HEAD and GET by sha512', async () => {
  const repo = repoName('up');
  const data = random(1500);
  const d = digest(data, 'sha512');
  const { location } = await startUpload(reg, repo);
  const res = await reg.req('PUT', withQuery(location, { digest: d }), { body: data, headers: octet });
  assert.equal(res.status, 201, res.text());
  const head = await reg.req('HEAD', `/v2/${repo}/blobs/${d}`);
  assert.equal(head.status, 200);
  assert.equal(head.header('content-length'), String(data.length));
  await assertBlob(repo, d, data);
});

test('sha512 upload closed with a wrong sha512 digest is refused', async () => {
  const repo = repoName('up');
  const data = random(100);
  const { location } = await startUpload(reg, repo);
  const res = await reg.req('PUT', withQuery(location, { digest: digest(random(100), 'sha512') }), { body: data, headers: octet });
  assertError(res, 400, 'DIGEST_INVALID');
});

test('mount with from: 201, Location and Docker-Content-Digest; the blob is served in the target', async () => {
  const src = repoName('mount-src');
  const dst = repoName('mount-dst');
  const data = random(600);
  const d = await pushBlob(reg, src, data);
  const res = await reg.req('POST', `/v2/${dst}/blobs/uploads/?mount=${d}&from=${src}`);
  assert.equal(res.status, 201);
  assert.equal(res.header('docker-content-digest'), d);
  assert.equal(new URL(res.header('location')!, reg.url).pathname, `/v2/${dst}/blobs/${d}`);
  await assertBlob(dst, d, data);
});

test('mount of a blob the source repository lacks falls back to a session (202)', async () => {
  const src = repoName('mount-src');
  const dst = repoName('mount-dst');
  await pushBlob(reg, src, random(10));
  const missing = digest(random(10));
  const res = await reg.req('POST', `/v2/${dst}/blobs/uploads/?mount=${missing}&from=${src}`);
  assert.equal(res.status, 202);
  assert.ok(res.header('location'));
  assert.ok(res.header('docker-upload-uuid'));
  // the session is real: the upload can be completed through it
  const data = random(20);
  const put = await reg.req('PUT', withQuery(new URL(res.header('location')!, reg.url).toString(), { digest: digest(data) }), { body: data, headers: octet });
  assert.equal(put.status, 201);
  await assertBlob(dst, digest(data), data);
});

test('mount from a repository that does not exist falls back to a session (202)', async () => {
  const dst = repoName('mount-dst');
  const res = await reg.req('POST', `/v2/${dst}/blobs/uploads/?mount=${digest(random(4))}&from=${repoName('ghost')}`);
  assert.equal(res.status, 202);
  assert.ok(res.header('location'));
});

test('mount without from: Berth mounts a blob it knows (201)', deviation('mountWithoutFrom'), async () => {
  const src = repoName('mount-src');
  const dst = repoName('mount-dst');
  const data = random(64);
  const d = await pushBlob(reg, src, data);
  const res = await reg.req('POST', `/v2/${dst}/blobs/uploads/?mount=${d}`);
  assert.equal(res.status, 201);
  assert.equal(res.header('docker-content-digest'), d);
  await assertBlob(dst, d, data);
});

test('mount with a malformed digest falls back to a new session (202), as the spec says of a mount that cannot happen', async () => {
  const res = await reg.req('POST', `/v2/${repoName('mount-dst')}/blobs/uploads/?mount=sha256:zzz&from=${repoName('src')}`);
  assert.equal(res.status, 202);
  assert.ok(res.header('location'));
});

test('Location works both as an absolute URL and as a path-only relative reference', async () => {
  const repo = repoName('up');
  const data = random(400);
  const { location } = await startUpload(reg, repo);
  const abs = new URL(location);
  const relative = abs.pathname + abs.search; // resolved against the registry base by the client
  const patch = await reg.req('PATCH', relative, { body: data.subarray(0, 200), headers: octet });
  assert.equal(patch.status, 202);
  const raw = patch.header('location')!;
  // RFC 7231 §7.1.2: Location may be relative; resolve it against the request URL.
  const next = new URL(raw, `${reg.url}${relative}`);
  const put = await reg.req('PUT', withQuery(next.toString(), { digest: digest(data) }), { body: data.subarray(200), headers: octet });
  assert.equal(put.status, 201);
  await assertBlob(repo, digest(data), data);
});

test('an upload is scoped to its repository: the same id under another name is unknown', async () => {
  const repo = repoName('up');
  const { location } = await startUpload(reg, repo);
  const other = repoName('up-other');
  await pushBlob(reg, other, random(3));
  const u = new URL(location);
  u.pathname = u.pathname.replace(`/v2/${repo}/`, `/v2/${other}/`);
  const res = await reg.req('PATCH', u.toString(), { body: random(5), headers: octet });
  assert.ok([400, 404].includes(res.status), `status ${res.status}`);
  assertError(res, [400, 404], ['BLOB_UPLOAD_UNKNOWN', 'BLOB_UPLOAD_INVALID']);
});
