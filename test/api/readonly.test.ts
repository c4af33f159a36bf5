import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { blob, random, repoName } from '../helpers/content.js';
import { assertError, getManifest, pushImage, putManifest, type PushedImage } from '../helpers/push.js';
import type { Res } from '../helpers/http.js';
import { deviates } from '../helpers/target.js';

/** 405; the UNSUPPORTED envelope is asserted except where Distribution 2.8.2 is known to differ (readonlyBody). */
function assertRefused(res: Res): void {
  assert.equal(res.status, 405, res.text());
  if (!deviates('readonlyBody')) assertError(res, 405, 'UNSUPPORTED');
}
import { rm } from 'node:fs/promises';

let ro: Registry;
let base: string;
const repo = repoName('ro');
let img: PushedImage;

before(async () => {
  // Fill a storage root with a writable registry, then serve the same root read-only.
  const rw = await startRegistry();
  img = await pushImage(rw, repo, 'v1');
  base = rw.base;
  await rw.stop({ keep: true });
  ro = await startRegistry({ base, readonly: true });
});
after(async () => {
  await ro?.stop();
  if (base) await rm(base, { recursive: true, force: true });
});

test('read-only: reads still work (manifest, blob, tags, catalog)', async () => {
  const m = await getManifest(ro, repo, 'v1');
  assert.equal(m.status, 200);
  assert.ok(m.body.equals(img.manifest.bytes));
  const b = await ro.req('GET', `/v2/${repo}/blobs/${img.layers[0]!.digest}`);
  assert.equal(b.status, 200);
  assert.ok(b.body.equals(img.layers[0]!.data));
  assert.deepEqual((await ro.req('GET', `/v2/${repo}/tags/list`)).json().tags, ['v1']);
  assert.deepEqual((await ro.req('GET', '/v2/_catalog')).json().repositories, [repo]);
  assert.equal((await ro.req('GET', '/v2/')).status, 200);
});

test('read-only: starting an upload answers 405 UNSUPPORTED', async () => {
  assertRefused(await ro.req('POST', `/v2/${repo}/blobs/uploads/`));
  const b = blob(random(10));
  assertRefused(await ro.req('POST', `/v2/${repo}/blobs/uploads/?digest=${b.digest}`, { body: b.data, headers: { 'Content-Type': 'application/octet-stream' } }));
  assertRefused(await ro.req('POST', `/v2/other/blobs/uploads/?mount=${img.layers[0]!.digest}&from=${repo}`));
});

test('read-only: manifest PUT and DELETEs answer 405 UNSUPPORTED and change nothing', async () => {
  assertRefused(await putManifest(ro, repo, 'v2', img.manifest));
  assertRefused(await ro.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`));
  assertRefused(await ro.req('DELETE', `/v2/${repo}/blobs/${img.layers[0]!.digest}`));
  assert.equal((await getManifest(ro, repo, 'v1')).status, 200);
  assert.equal((await getManifest(ro, repo, 'v2')).status, 404);
  assert.equal((await ro.req('HEAD', `/v2/${repo}/blobs/${img.layers[0]!.digest}`)).status, 200);
});
