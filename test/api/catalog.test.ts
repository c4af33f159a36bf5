import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { assertError, pushImage } from '../helpers/push.js';
import { nextLink } from '../helpers/http.js';
import { deviation } from '../helpers/target.js';

let reg: Registry;
let empty: Registry;
const repos = ['zeta', 'alpha', 'alpha/nested', 'alpha/nested/deeper', 'b-c', 'b.c', 'b_c', 'b0', 'library/ubuntu', 'm__n'];
const sorted = [...repos].sort();

before(async () => {
  reg = await startRegistry();
  empty = await startRegistry();
  for (const r of repos) await pushImage(reg, r, 'latest');
});
after(async () => { await reg?.stop(); await empty?.stop(); });

test('GET /v2/_catalog lists every repository in sorted order', async () => {
  const res = await reg.req('GET', '/v2/_catalog');
  assert.equal(res.status, 200);
  assert.match(res.header('content-type') ?? '', /^application\/json/);
  assert.deepEqual(res.json().repositories, sorted);
});

test('an empty registry has an empty catalog', async () => {
  const res = await empty.req('GET', '/v2/_catalog');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json().repositories ?? [], []);
});

test('n and Link rel="next" page through the catalog in order', async () => {
  const seen: string[] = [];
  let url: string | undefined = '/v2/_catalog?n=3';
  let pages = 0;
  while (url) {
    const res = await reg.req('GET', new URL(url, reg.url).toString());
    assert.equal(res.status, 200);
    const page = res.json().repositories as string[];
    assert.ok(page.length <= 3);
    const link = nextLink(res.header('link'));
    if (link) {
      assert.equal(page.length, 3);
      assert.match(res.header('link')!, /^<[^>]+>;\s*rel="next"$/);
    }
    seen.push(...page);
    url = link;
    pages += 1;
    assert.ok(pages < 20);
  }
  assert.deepEqual(seen, sorted);
});

test('last starts after the given repository', async () => {
  const res = await reg.req('GET', `/v2/_catalog?n=2&last=${encodeURIComponent('alpha/nested')}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json().repositories, sorted.slice(sorted.indexOf('alpha/nested') + 1).slice(0, 2));
});

test('n=0 returns an empty list and no Link', async () => {
  const res = await reg.req('GET', '/v2/_catalog?n=0');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json().repositories ?? [], []);
  assert.equal(res.header('link'), undefined);
});

test('a non-numeric n answers 400 PAGINATION_NUMBER_INVALID', deviation('catalogPagination'), async () => {
  assertError(await reg.req('GET', '/v2/_catalog?n=many'), 400, 'PAGINATION_NUMBER_INVALID');
});

/** Every name the catalog lists, following Link from `first`; also the size of each page. */
async function walk(r: Registry, first: string): Promise<{ names: string[]; pages: number[] }> {
  const names: string[] = [];
  const pages: number[] = [];
  for (let url: string | undefined = first; url; url = nextLink((await r.req('GET', new URL(url, r.url).toString())).header('link'))) {
    const res = await r.req('GET', new URL(url, r.url).toString());
    assert.equal(res.status, 200, `${url}: ${res.text()}`);
    const page = res.json().repositories as string[];
    names.push(...page);
    pages.push(page.length);
    assert.ok(pages.length < 20);
  }
  return { names, pages };
}

test('catalog.maxentries bounds every page, with and without n; Link leads to the rest', async () => {
  const small = await startRegistry({ extraYaml: 'catalog:\n  maxentries: 4' });
  try {
    for (const r of repos) await pushImage(small, r, 'latest');
    const plain = await walk(small, '/v2/_catalog');
    assert.deepEqual(plain.names, sorted);
    assert.deepEqual(plain.pages, [4, 4, 2]);
    const paged = await walk(small, '/v2/_catalog?n=3');
    assert.deepEqual(paged.names, sorted);
    assert.deepEqual(paged.pages, [3, 3, 3, 1]);
  } finally {
    await small.stop();
  }
});

test('an n above catalog.maxentries is cut to it', deviation('catalogMaxEntries400'), async () => {
  const small = await startRegistry({ extraYaml: 'catalog:\n  maxentries: 4' });
  try {
    for (const r of repos) await pushImage(small, r, 'latest');
    const res = await small.req('GET', '/v2/_catalog?n=100');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json().repositories, sorted.slice(0, 4));
    const link = nextLink(res.header('link'));
    assert.ok(link, 'a Link to the next page');
    assert.equal(new URL(link, small.url).searchParams.get('n'), '4');
    const all = await walk(small, '/v2/_catalog?n=100');
    assert.deepEqual(all.names, sorted);
  } finally {
    await small.stop();
  }
});
