/**
 * Every write route driven with the bodies an attacker (or a broken client) sends: chunked,
 * oversized, half-sent (the client stops and closes its side) and aborted (reset, so nothing can
 * be answered). Each answer is the route's 4xx; none is a 5xx (the access log is read for that,
 * since a cut connection never receives its answer); nothing half-sent becomes visible; and the
 * process serves on at log levels info and debug.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { digest, imageConfig, ociManifest, random, repoName } from '../helpers/content.js';
import { rawRequest } from '../helpers/http.js';
import { pushBlob, startUpload } from '../helpers/push.js';
import type { Registry } from '../helpers/registry.js';
import { Readable } from 'node:stream';
import { assertStillServing, sendChunked, sendPartial, startLogged, waitForLog, type Level } from './harness.js';

const MIB = 1024 * 1024;
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/** The path part of an absolute upload Location. */
function pathOf(location: string): string {
  const u = new URL(location);
  return u.pathname + u.search;
}

for (const level of ['info', 'debug'] as Level[]) {
  describe(`write routes with hostile bodies, log level ${level}`, () => {
    let reg: Registry;
    before(async () => {
      reg = await startLogged({ level });
    });
    after(() => reg.stop());

    it('POST uploads (session start and monolithic ?digest=)', async () => {
      const repo = repoName('bodies');
      const data = random(MIB);
      const d = digest(data);
      // A session start ignores a body, chunked or not.
      assert.equal((await sendChunked(reg, 'POST', `/v2/${repo}/blobs/uploads/`, 256 * 1024)).status, 202);
      // Chunked monolithic upload of other bytes than the digest names: refused, nothing stored.
      const wrong = await sendChunked(reg, 'POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, MIB, { 'Content-Type': 'application/octet-stream' });
      assert.equal(wrong.status, 400);
      assert.equal(JSON.parse(wrong.body).errors[0].code, 'DIGEST_INVALID');
      // Half-sent: the body ends early, which Node's parser answers with 400; aborted: reset, no answer.
      assert.equal((await sendPartial(reg, 'POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { declared: MIB, sent: MIB / 2, mode: 'half' })).status, 400);
      await sendPartial(reg, 'POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { declared: MIB, sent: MIB / 2, mode: 'abort' });
      // More bytes than declared: the extra is read as the next request and refused by the parser.
      const over = await rawRequest(reg.url, `POST /v2/${repo}/blobs/uploads/?digest=${d} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcdGARBAGE\r\n\r\n`, 3000);
      assert.equal(over.status, 400, 'over-long body');
      // A declared length no integer holds.
      const absurd = await rawRequest(reg.url, `POST /v2/${repo}/blobs/uploads/?digest=${d} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 99999999999999999999999\r\n\r\nabc`, 3000);
      assert.equal(absurd.status, 400, 'absurd Content-Length');
      assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 404, 'nothing half-sent is visible');
      // A request left unanswered is logged as such (499), not with Node's default 200.
      await waitForLog(reg, new RegExp(`method=POST url="/v2/${repo}/blobs/uploads/\\?digest=${d}" status=499 `));
      await assertStillServing(reg);
    });

    it('PATCH and PUT of an upload session', async () => {
      const repo = repoName('bodies');
      const data = random(MIB);
      const d = digest(data);
      // Chunked PATCH (no Content-Range) is a streamed chunk: accepted.
      let { location } = await startUpload(reg, repo);
      const streamed = await sendChunked(reg, 'PATCH', pathOf(location), 300 * 1024, { 'Content-Type': 'application/octet-stream' });
      assert.equal(streamed.status, 202);
      // A chunk longer than its Content-Range says.
      ({ location } = await startUpload(reg, repo));
      const long = await reg.req('PATCH', location, { body: random(100), headers: { 'Content-Range': '0-9', 'Content-Type': 'application/octet-stream' } });
      assert.equal(long.status, 400);
      assert.equal(long.json().errors[0].code, 'SIZE_INVALID');
      // Half-sent and aborted chunks and closing PUTs: the session still answers, with a Range no
      // further than what arrived, and the blob is not visible.
      for (const method of ['PATCH', 'PUT']) {
        for (const mode of ['half', 'abort'] as const) {
          ({ location } = await startUpload(reg, repo));
          const target = method === 'PUT' ? `${pathOf(location)}&digest=${d}` : pathOf(location);
          const res = await sendPartial(reg, method, target, { declared: MIB, sent: MIB / 4, mode, headers: { 'Content-Type': 'application/octet-stream' } });
          if (mode === 'half') assert.equal(res.status, 400, `${method} half-sent`);
          const status = await reg.req('GET', location);
          assert.equal(status.status, 204, `${method} ${mode}: upload status ${status.status}`);
          const end = Number(/^0-(\d+)$/.exec(status.header('range') ?? '')?.[1]);
          assert.ok(end < MIB / 4, `${method} ${mode}: Range ${status.header('range')}`);
        }
      }
      // A chunked closing PUT with the whole blob works.
      ({ location } = await startUpload(reg, repo));
      assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 404, 'nothing half-sent is visible');
      const whole = await reg.req('PUT', `${location}&digest=${d}`, { body: Readable.from([data]), headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(whole.status, 201);
      await assertStillServing(reg);
    });

    it('PUT manifests: chunked, oversized, half-sent, aborted', async () => {
      const repo = repoName('bodies');
      const config = imageConfig();
      await pushBlob(reg, repo, config.data);
      const manifest = ociManifest({ config: config.descriptor, layers: [] });
      // Chunked within the limit: stored.
      const small = await reg.req('PUT', `/v2/${repo}/manifests/chunked`, { body: Readable.from([manifest.bytes]), headers: { 'Content-Type': MANIFEST_TYPE } });
      assert.equal(small.status, 201);
      // Over 4 MiB, chunked or declared: 413 before anything is stored.
      assert.equal((await sendChunked(reg, 'PUT', `/v2/${repo}/manifests/big`, 4 * MIB + 1, { 'Content-Type': MANIFEST_TYPE })).status, 413);
      const declared = await sendPartial(reg, 'PUT', `/v2/${repo}/manifests/big`, { declared: 64 * MIB, sent: 10, mode: 'half', headers: { 'Content-Type': MANIFEST_TYPE } });
      assert.equal(declared.status, 413);
      for (const mode of ['half', 'abort'] as const) {
        const res = await sendPartial(reg, 'PUT', `/v2/${repo}/manifests/partial`, { declared: manifest.bytes.length, sent: Math.floor(manifest.bytes.length / 2), mode, headers: { 'Content-Type': MANIFEST_TYPE } });
        if (mode === 'half') assert.equal(res.status, 400);
      }
      for (const tag of ['big', 'partial']) assert.equal((await reg.req('GET', `/v2/${repo}/manifests/${tag}`)).status, 404);
      await assertStillServing(reg);
    });

    it('DELETE routes with bodies', async () => {
      const repo = repoName('bodies');
      const d = await pushBlob(reg, repo, random(1024));
      // A DELETE reads no body: it answers at once, whatever follows.
      const absent: Array<[string, string]> = [
        [`/v2/${repo}/manifests/sha256:${'0'.repeat(64)}`, 'MANIFEST_UNKNOWN'],
        [`/v2/${repo}/blobs/sha256:${'1'.repeat(64)}`, 'BLOB_UNKNOWN'],
        [`/v2/_berth/repositories/${repoName('none')}`, 'NAME_UNKNOWN'],
      ];
      for (const [path, code] of absent) {
        // A body that goes out in one write, so the request is whole before its answer: a DELETE
        // reads no body, and a larger one still being written when the answer came was once seen
        // reset under load, which would leave nothing to assert.
        const chunked = await sendChunked(reg, 'DELETE', path, 1024);
        assert.equal(chunked.status, 404, `chunked DELETE ${path}`);
        assert.equal(JSON.parse(chunked.body).errors[0].code, code);
        const half = await sendPartial(reg, 'DELETE', path, { declared: MIB, sent: 1000, mode: 'half' });
        assert.equal(half.status, 404, `half-sent DELETE ${path}`);
        await sendPartial(reg, 'DELETE', path, { declared: MIB, sent: 1000, mode: 'abort' });
      }
      // A blob DELETE that names a real blob, sent chunked, still deletes it.
      assert.equal((await sendChunked(reg, 'DELETE', `/v2/${repo}/blobs/${d}`, 1000)).status, 202);
      assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 404);
      await assertStillServing(reg);
    });
  });
}
