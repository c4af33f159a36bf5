import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { random, repoName } from '../helpers/content.js';
import { assertError, pushBlob, pushImage, pushManifest } from '../helpers/push.js';
import { nextLink } from '../helpers/http.js';
import { deviation } from '../helpers/target.js';

let reg: Registry;
const repo = repoName('tags');
// Mixed case, digits and punctuation, pushed out of order.
const tags = ['v1.0', 'latest', 'B', 'a10', 'a2', '0', 'Z_last', 'v1-0', 'beta', '_under', 'a'];

before(async () => {
  reg = await startRegistry();
  const img = await pushImage(reg, repo, tags[0]);
  for (const t of tags.slice(1)) await pushManifest(reg, repo, t, img.manifest);
});
after(async () => { await reg?.stop(); });

const ascii = [...tags].sort();
test('tags/list returns every tag with the repository name', async () => {
  const res = await reg.req('GET', `/v2/${repo}/tags/list`);
  assert.equal(res.status, 200);
  assert.match(res.header('content-type') ?? '', /^application\/json/);
  const body = res.json();
  assert.equal(body.name, repo);
  assert.deepEqual([...body.tags].sort(), ascii);
});

test('tags/list is in lexical order', deviation('tagOrderAndN'), async () => {
  const body = (await reg.req('GET', `/v2/${repo}/tags/list`)).json();
  // Byte order (upper case before lower case), the order Berth documents.
  assert.deepEqual(body.tags, ascii);
});

test('n limits the page and Link rel="next" walks the rest in order', deviation('tagOrderAndN'), async () => {
  const pages: string[][] = [];
  let url: string | undefined = `/v2/${repo}/tags/list?n=3`;
  while (url) {
    const res = await reg.req('GET', new URL(url, reg.url).toString());
    assert.equal(res.status, 200);
    pages.push(res.json().tags as string[]);
    url = nextLink(res.header('link'));
    if (url !== undefined) assert.match(res.header('link')!, /^<[^>]+>;\s*rel="next"$/);
    assert.ok(pages.length < 20, 'pagination terminates');
  }
  // Full pages of 3 in order, each followed by a Link, and the last (2 tags) without one.
  assert.deepEqual(pages, [ascii.slice(0, 3), ascii.slice(3, 6), ascii.slice(6, 9), ascii.slice(9)]);
});

test('last returns the tags after the given one; n is optional with last', deviation('tagOrderAndN'), async () => {
  const all = (await reg.req('GET', `/v2/${repo}/tags/list`)).json().tags as string[];
  const pivot = all[3]!;
  const res = await reg.req('GET', `/v2/${repo}/tags/list?last=${encodeURIComponent(pivot)}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json().tags, all.slice(4));
  const two = await reg.req('GET', `/v2/${repo}/tags/list?n=2&last=${encodeURIComponent(pivot)}`);
  assert.deepEqual(two.json().tags, all.slice(4, 6));
});

test('n=0 returns an empty list and no Link header', deviation('tagOrderAndN'), async () => {
  const res = await reg.req('GET', `/v2/${repo}/tags/list?n=0`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json().tags, []);
  assert.equal(res.header('link'), undefined);
});

test('n larger than the tag count returns everything without a Link', async () => {
  const res = await reg.req('GET', `/v2/${repo}/tags/list?n=1000`);
  assert.equal(res.status, 200);
  assert.equal(res.json().tags.length, tags.length);
  assert.equal(res.header('link'), undefined);
});

test('last past the final tag returns an empty list', deviation('tagOrderAndN'), async () => {
  const res = await reg.req('GET', `/v2/${repo}/tags/list?last=zzzz`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json().tags, []);
});

test('tags/list of an unknown repository answers 404 NAME_UNKNOWN', async () => {
  assertError(await reg.req('GET', `/v2/${repoName('ghost')}/tags/list`), 404, 'NAME_UNKNOWN');
});

test('tags/list of a repository that holds only blobs answers 404 NAME_UNKNOWN', async () => {
  // Distribution knows a repository's tags once it has manifests; blobs alone (an upload that
  // was never followed by a manifest) do not make a name listable.
  const r = repoName('tags-blobs');
  await pushBlob(reg, r, random(64));
  assertError(await reg.req('GET', `/v2/${r}/tags/list`), 404, 'NAME_UNKNOWN');
});

test('a non-numeric or negative n answers 400 PAGINATION_NUMBER_INVALID', deviation('tagOrderAndN'), async () => {
  for (const n of ['abc', '-1', '1.5']) {
    assertError(await reg.req('GET', `/v2/${repo}/tags/list?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID', `n=${n}`);
  }
});

test('a deleted tag disappears from the list', deviation('tagDelete'), async () => {
  const r = repoName('tags-del');
  await pushImage(reg, r, 'one');
  const img = await pushImage(reg, r, 'two');
  await pushManifest(reg, r, 'three', img.manifest);
  assert.equal((await reg.req('DELETE', `/v2/${r}/manifests/two`)).status, 202);
  assert.deepEqual((await reg.req('GET', `/v2/${r}/tags/list`)).json().tags, ['one', 'three']);
});
