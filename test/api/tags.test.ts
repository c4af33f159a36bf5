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
const caseless = [...tags].sort((x, y) => x.toLowerCase().localeCompare(y.toLowerCase(), 'en') || (x < y ? -1 : 1));
function assertLexical(list: string[]): void {
  const okAscii = JSON.stringify(list) === JSON.stringify([...list].sort());
  const okCaseless = JSON.stringify(list) === JSON.stringify([...list].sort((x, y) => x.toLowerCase().localeCompare(y.toLowerCase(), 'en') || (x < y ? -1 : 1)));
  assert.ok(okAscii || okCaseless, `not in lexical order: ${list.join(' ')}`);
}

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
  assertLexical(body.tags);
  assert.ok(JSON.stringify(body.tags) === JSON.stringify(ascii) || JSON.stringify(body.tags) === JSON.stringify(caseless));
});

test('n limits the page and Link rel="next" walks the rest in order', deviation('tagOrderAndN'), async () => {
  const seen: string[] = [];
  let url: string | undefined = `/v2/${repo}/tags/list?n=3`;
  let pages = 0;
  while (url) {
    const res = await reg.req('GET', new URL(url, reg.url).toString());
    assert.equal(res.status, 200);
    const page = res.json().tags as string[];
    pages += 1;
    const link = nextLink(res.header('link'));
    if (link) assert.equal(page.length, 3, 'a page followed by a Link is full');
    assert.ok(page.length <= 3);
    seen.push(...page);
    if (link) assert.match(res.header('link')!, /^<[^>]+>;\s*rel="next"$/);
    url = link;
    assert.ok(pages < 20, 'pagination terminates');
  }
  assert.equal(seen.length, tags.length);
  assert.deepEqual([...seen].sort(), ascii);
  assertLexical(seen);
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
  assert.deepEqual(res.json().tags ?? [], []);
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
  assert.deepEqual(res.json().tags ?? [], []);
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
