import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { blob, digest, random } from '../helpers/content.js';
import { assertError, errorCodes, getManifest, pushBlob, pushImage, pushManifest, putManifest } from '../helpers/push.js';
import { rawRequest, type RawRes } from '../helpers/http.js';
import { deviation } from '../helpers/target.js';

let reg: Registry;
before(async () => { reg = await startRegistry(); });
after(async () => { await reg?.stop(); });

const NAME = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;

/** Repository directories the storage holds (those with _manifests, _layers or _uploads inside). */
async function storedRepos(root: string): Promise<string[]> {
  const base = path.join(root, 'docker', 'registry', 'v2', 'repositories');
  const out: string[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    let entries;
    try { entries = await readdir(dir, { withFileTypes: true }); } catch { return; }
    if (entries.some((e) => e.name.startsWith('_'))) out.push(rel);
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('_')) await walk(path.join(dir, e.name), rel ? `${rel}/${e.name}` : e.name);
  }
  await walk(base, '');
  return out;
}

test('names matching the spec grammar work for blobs, manifests and tags', async () => {
  const names = ['a', '0', 'a/b/c', 'a.b_c__d-e--f', 'x0/y-1/z.2', 'library/ubuntu', `${'a'.repeat(100)}/${'b'.repeat(100)}`];
  for (const n of names) {
    assert.match(n, NAME);
    const img = await pushImage(reg, n, 'latest');
    const res = await getManifest(reg, n, 'latest');
    assert.equal(res.status, 200, n);
    assert.ok(res.body.equals(img.manifest.bytes));
    assert.deepEqual((await reg.req('GET', `/v2/${n}/tags/list`)).json(), { name: n, tags: ['latest'] });
  }
});

const INVALID = ['Upper', 'Up/per', 'a..b', 'a//b', '-a', 'a-', 'a_', '_a', 'a___b', 'a/.b', 'a/../b', '..', '%2e%2e', 'a/%2e%2e/b', '%2e%2e/%2e%2e/escape', 'a%00b', 'a b'];

/** Sends blob, manifest and tag requests under name `n` over a raw socket (paths go out as they are). */
async function sendAll(n: string, check: (res: RawRes, what: string) => void): Promise<void> {
  const data = random(16);
  const d = digest(data);
  const u = new URL(reg.url);
  for (const [method, p, body] of [
    ['POST', `/v2/${n}/blobs/uploads/?digest=${d}`, data],
    ['POST', `/v2/${n}/blobs/uploads/`, undefined],
    ['PUT', `/v2/${n}/manifests/latest`, Buffer.from('{}')],
    ['GET', `/v2/${n}/manifests/latest`, undefined],
    ['GET', `/v2/${n}/tags/list`, undefined],
  ] as const) {
    const head = `${method} ${p} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body?.length ?? 0}\r\nConnection: close\r\n\r\n`;
    const res = await rawRequest(reg.url, Buffer.concat([Buffer.from(head, 'latin1'), body ?? Buffer.alloc(0)]));
    const what = `${method} ${JSON.stringify(n)}`;
    assert.notEqual(res.status, 0, `${what}: no answer`);
    check(res, what);
  }
}

test('names outside the grammar are refused with 400 NAME_INVALID', deviation('nameValidation'), async () => {
  for (const n of INVALID) {
    await sendAll(n, (res, what) => {
      assert.equal(res.status, 400, what);
      // A space ends the request target: Node's HTTP parser answers 400 itself, before routing, with no body.
      if (n.includes(' ')) assert.equal(res.body, '', what);
      else assert.deepEqual(JSON.parse(res.body).errors.map((e: { code: string }) => e.code), ['NAME_INVALID'], what);
    });
  }
});

test('requests under invalid names write nothing outside the storage root and create no invalid repository', async () => {
  for (const n of INVALID) await sendAll(n, (res, what) => assert.ok(res.status < 500, `${what}: ${res.status}`));
  const beside = (await readdir(reg.base)).filter((e) => e !== 'storage');
  assert.deepEqual(beside, [], 'nothing beside the storage root');
  const inRoot = (await readdir(reg.root).catch(() => [] as string[])).filter((e) => e !== 'docker' && !e.startsWith('.berth')); // the filesystem driver's scratch dir is allowed
  assert.deepEqual(inRoot, [], 'the storage root holds only the registry tree');
  for (const r of await storedRepos(reg.root)) {
    assert.ok(!r.split('/').some((c) => c === '..' || c === '.' || c === ''), `stored repository ${r} has a dot or empty segment`);
    assert.ok(!/[%\0 ]/.test(r), `stored repository ${r} has an undecoded or odd character`);
  }
});

test('a percent-encoded slash is refused or means a real slash, never a literal name', async () => {
  const b = blob(random(12));
  const res = await reg.req('POST', `/v2/pct%2Fslash/blobs/uploads/?digest=${b.digest}`, { body: b.data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.ok(res.status < 500);
  assert.ok(!(await storedRepos(reg.root)).some((r) => r.includes('%')));
});

test('a name of 256 characters or more is refused with 400 NAME_INVALID', deviation('nameValidation'), async () => {
  const long = `${'a'.repeat(200)}/${'b'.repeat(60)}`;
  const res = await reg.req('POST', `/v2/${long}/blobs/uploads/`);
  assert.equal(res.status, 400);
  assert.deepEqual(errorCodes(res), ['NAME_INVALID']);
  assert.ok((await storedRepos(reg.root)).every((r) => r.length < 256));
});

test('a blob route under an invalid name never creates storage for it', deviation('nameValidation'), async () => {
  const before = await storedRepos(reg.root);
  const res = await rawRequest(reg.url, `POST /v2/UPPER/case/blobs/uploads/ HTTP/1.1\r\nHost: ${new URL(reg.url).host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  assert.equal(res.status, 400);
  assert.deepEqual(JSON.parse(res.body).errors.map((e: { code: string }) => e.code), ['NAME_INVALID']);
  assert.deepEqual(await storedRepos(reg.root), before);
});

test('tags matching [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} are accepted', async () => {
  const repo = 'names/tags';
  const img = await pushImage(reg, repo, 'base');
  const good = ['A', '_', '_x', 'v1.2.3-rc_1', '9', 'x'.repeat(128), 'a..b', 'a--b'];
  for (const t of good) {
    await pushManifest(reg, repo, t, img.manifest);
    assert.equal((await getManifest(reg, repo, t)).status, 200, t);
  }
});

const BAD_TAGS = ['.dot', '-dash', 'x'.repeat(129), 'a+b', 'a%20b', 'a@b'];

test('tags outside the grammar are refused on PUT and not found on GET; nothing is tagged', async () => {
  const repo = 'names/badtags';
  const img = await pushImage(reg, repo, 'base');
  for (const t of BAD_TAGS) {
    const put = await putManifest(reg, repo, t, img.manifest);
    assert.ok(put.status >= 400 && put.status < 500, `PUT ${t}: ${put.status}`);
    const get = await getManifest(reg, repo, t);
    assert.ok([400, 404].includes(get.status), `GET ${t}: ${get.status}`);
  }
  const tags = (await reg.req('GET', `/v2/${repo}/tags/list`)).json().tags;
  assert.deepEqual(tags, ['base']);
});

test('a tag outside the grammar answers 400 TAG_INVALID on PUT and 404 MANIFEST_UNKNOWN on GET', deviation('tagValidation'), async () => {
  const repo = 'names/badtags2';
  const img = await pushImage(reg, repo, 'base');
  for (const t of BAD_TAGS) {
    assertError(await putManifest(reg, repo, t, img.manifest), 400, 'TAG_INVALID', `PUT ${t}`);
    assertError(await getManifest(reg, repo, t), 404, 'MANIFEST_UNKNOWN', `GET ${t}`);
  }
});

test('a repository name that equals an endpoint keyword still works as a path component', async () => {
  for (const n of ['blobs', 'manifests/x', 'tags', 'uploads/blobs']) {
    const b = blob(random(20));
    await pushBlob(reg, n, b.data);
    const res = await reg.req('GET', `/v2/${n}/blobs/${b.digest}`);
    assert.equal(res.status, 200, n);
    assert.ok(res.body.equals(b.data));
  }
});
