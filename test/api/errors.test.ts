import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { blob, digest, imageConfig, ociManifest, random, repoName, MT } from '../helpers/content.js';
import { assertErrorShape, errorCodes, pushBlob, pushImage, putManifest, startUpload, withQuery } from '../helpers/push.js';
import { rawRequest, type Res } from '../helpers/http.js';

let reg: Registry;
let noDelete: Registry;
before(async () => {
  reg = await startRegistry();
  noDelete = await startRegistry({ deleteEnabled: false });
});
after(async () => { await reg?.stop(); await noDelete?.stop(); });

const SPEC_CODES = new Set(['BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS',
  // legacy Docker codes the spec says clients may meet
  'TAG_INVALID', 'MANIFEST_UNVERIFIED', 'RANGE_INVALID', 'PAGINATION_NUMBER_INVALID']);

function check(res: Res, status: number, code: string): void {
  assert.equal(res.status, status, `${code}: status ${res.status} body ${res.text().slice(0, 200)}`);
  assertErrorShape(res);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['errors'], 'the envelope has only "errors"');
  for (const e of body.errors) {
    assert.ok(SPEC_CODES.has(e.code), `code ${e.code} is a spec code`);
    for (const k of Object.keys(e)) assert.ok(['code', 'message', 'detail'].includes(k), `unexpected field ${k}`);
    assert.equal(typeof e.message, 'string');
  }
  assert.ok(errorCodes(res).includes(code), `codes ${errorCodes(res)} include ${code}`);
}

test('each error condition answers its status with the {"errors":[{code,message,detail}]} envelope', async () => {
  const repo = repoName('err');
  const img = await pushImage(reg, repo, 'tag');
  check(await reg.req('GET', `/v2/${repo}/blobs/${digest(random(4))}`), 404, 'BLOB_UNKNOWN');
  check(await reg.req('GET', `/v2/${repo}/blobs/sha256:bad`), 400, 'DIGEST_INVALID');
  check(await reg.req('GET', `/v2/${repo}/manifests/nope`, { headers: { Accept: MT.ociManifest } }), 404, 'MANIFEST_UNKNOWN');
  check(await reg.req('GET', `/v2/${repoName('ghost')}/tags/list`), 404, 'NAME_UNKNOWN');
  check(await reg.req('PUT', `/v2/${repo}/manifests/bad`, { body: '{', headers: { 'Content-Type': MT.ociManifest } }), 400, 'MANIFEST_INVALID');
  const missing = ociManifest({ config: img.config.descriptor, layers: [blob(random(9)).descriptor] });
  const mbu = await putManifest(reg, repo, 'missing', missing);
  assert.ok([400, 404].includes(mbu.status));
  check(mbu, mbu.status, 'MANIFEST_BLOB_UNKNOWN');
  const { location } = await startUpload(reg, repo);
  check(await reg.req('PUT', withQuery(location, { digest: digest(random(3)) }), { body: random(4), headers: { 'Content-Type': 'application/octet-stream' } }), 400, 'DIGEST_INVALID');
  const d = await pushBlob(noDelete, repo, random(8));
  check(await noDelete.req('DELETE', `/v2/${repo}/blobs/${d}`), 405, 'UNSUPPORTED');
  const done = await startUpload(reg, repo);
  const data = random(5);
  assert.equal((await reg.req('PUT', withQuery(done.location, { digest: digest(data) }), { body: data })).status, 201);
  check(await reg.req('GET', done.location), 404, 'BLOB_UPLOAD_UNKNOWN');
});

test('HEAD errors carry the status and no body', async () => {
  const repo = repoName('err');
  await pushImage(reg, repo, 'x');
  for (const p of [`/v2/${repo}/blobs/${digest(random(4))}`, `/v2/${repo}/manifests/none`]) {
    const res = await reg.req('HEAD', p);
    assert.equal(res.status, 404);
    assert.equal(res.body.length, 0);
  }
});

test('oversized request headers are refused with 431 or 400 and the server keeps serving', async () => {
  const u = new URL(reg.url);
  const res = await rawRequest(reg.url, `GET /v2/ HTTP/1.1\r\nHost: ${u.host}\r\nX-Big: ${'a'.repeat(2 * 1024 * 1024)}\r\nConnection: close\r\n\r\n`);
  assert.ok([400, 431].includes(res.status) || res.status === 0, `status ${res.status}`);
  assert.equal((await reg.req('GET', '/v2/')).status, 200);
});

test('a garbage request line is refused with 400 and the server keeps serving', async () => {
  const res = await rawRequest(reg.url, 'THIS IS NOT HTTP\r\n\r\n');
  assert.ok([400, 0].includes(res.status), `status ${res.status}`);
  assert.equal((await reg.req('GET', '/v2/')).status, 200);
});

test('a non-numeric Content-Length is refused with 400', async () => {
  const u = new URL(reg.url);
  const res = await rawRequest(reg.url, `PUT /v2/${repoName('err')}/manifests/x HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: ${MT.ociManifest}\r\nContent-Length: twelve\r\nConnection: close\r\n\r\n{}`);
  assert.ok([400, 0].includes(res.status), `status ${res.status}`);
  assert.equal((await reg.req('GET', '/v2/')).status, 200);
});

test('a client that disconnects mid-upload does not break the registry', async () => {
  const repo = repoName('err');
  const { location } = await startUpload(reg, repo);
  const u = new URL(location);
  await rawRequest(reg.url, `PATCH ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`, 300);
  const status = await reg.req('GET', location);
  assert.ok([204, 404].includes(status.status), `status ${status.status}`);
  assert.equal((await reg.req('GET', '/v2/')).status, 200);
});

test('a manifest body that is valid JSON but not an object of the declared type is MANIFEST_INVALID', async () => {
  const repo = repoName('err');
  await pushImage(reg, repo, 'x');
  const cfg = imageConfig();
  for (const body of [
    JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: cfg.descriptor }),
    JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: 'nope', layers: [] }),
    JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: 'nope' }),
  ]) {
    const ct = JSON.parse(body).mediaType;
    const res = await reg.req('PUT', `/v2/${repo}/manifests/bad`, { body, headers: { 'Content-Type': ct } });
    assert.equal(res.status, 400, `${body}: ${res.status} ${res.text()}`);
    assert.ok(errorCodes(res).some((c) => ['MANIFEST_INVALID', 'MANIFEST_BLOB_UNKNOWN'].includes(c)), `${body}: ${errorCodes(res)}`);
  }
});
