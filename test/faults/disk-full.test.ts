/**
 * Disk full: the storage root on a 24 MiB tmpfs. Every write that runs out of space (a blob push
 * in one request or in chunks, starting an upload, a manifest, a tag) is answered 503 UNAVAILABLE
 * "no space left on the storage device" (docs/operations.md, "Failure modes"), leaves no
 * temporary data behind, and changes nothing a client can see; reads keep working; once space is
 * freed the same writes succeed. The listings an object store keeps beside the layout are saved
 * again once there is room, and never torn meanwhile.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultYaml, startRegistry, type Registry } from '../helpers/registry.js';
import { blob, digest, imageConfig, ociManifest, random, repoName, type Manifest } from '../helpers/content.js';
import { assertError, getManifest, pushBlobs, pushImage, startUpload, withQuery, type PushedImage } from '../helpers/push.js';
import type { Res } from '../helpers/http.js';
import { mountSmallDisk, type SmallDisk } from './small-disk.js';
import { until, within } from './bounded.js';
import { failedPuts, KEYED_FILESYSTEM, registerKeyedFilesystem } from './keyed-filesystem.js';

const NO_SPACE = /no space left on the storage device/;
let disk: SmallDisk;
let reg: Registry;

before(async () => {
  disk = await mountSmallDisk(24);
  reg = await startRegistry({ base: disk.dir });
});
after(async () => {
  await reg?.stop({ keep: true });
  await disk?.remove();
});

/** A request expected to be refused for lack of space, answered within a bounded time. */
async function refused(what: string, send: () => Promise<Res>): Promise<Res> {
  const res = await within(60_000, send(), what);
  assertError(res, 503, 'UNAVAILABLE', what);
  assert.match(res.text(), NO_SPACE, what);
  return res;
}

/** Files under the storage root's upload folders and the driver's temp folder: none may be left. */
async function leftovers(repo: string): Promise<string[]> {
  const places = [path.join(reg.root, 'docker/registry/v2/repositories', repo, '_uploads'), path.join(reg.root, '.berth-tmp')];
  const found: string[] = [];
  for (const place of places) {
    const entries = await readdir(place, { recursive: true }).catch(() => [] as string[]);
    found.push(...entries.map((e) => path.join(place, e)));
  }
  return found;
}

async function pullsWhole(repo: string, ref: string, image: { manifest: Manifest; blobs: { digest: string }[] }): Promise<void> {
  const m = await getManifest(reg, repo, ref);
  assert.equal(m.status, 200, `GET ${repo}:${ref}`);
  assert.equal(digest(m.body), image.manifest.digest);
  for (const b of image.blobs) {
    const res = await reg.req('GET', `/v2/${repo}/blobs/${b.digest}`);
    assert.equal(res.status, 200);
    assert.equal(digest(res.body), b.digest);
  }
}

const imageBlobs = (i: PushedImage) => ({ manifest: i.manifest, blobs: [i.config, ...i.layers] });

describe('disk full (tmpfs storage root)', () => {
  it('refuses blob pushes with 503, removes their data, keeps serving, and takes them once space is freed', async () => {
    const repo = repoName('full');
    const existing = await pushImage(reg, repo, 'before', { layers: 2, layerSize: 256 * 1024 });
    const data = random(4 * 1024 * 1024);
    const d = digest(data);

    await disk.fill(1024 * 1024);
    // Monolithic: POST (room for the session), PUT with the whole body.
    const { location } = await startUpload(reg, repo);
    await refused('PUT of a whole blob', () => reg.req('PUT', withQuery(location, { digest: d }), { body: data, headers: { 'Content-Type': 'application/octet-stream' }, allowServerError: true }));
    assert.equal((await reg.req('GET', location)).status, 404, 'the failed upload is gone');
    // One request (POST ?digest=).
    await refused('POST ?digest=', () => reg.req('POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' }, allowServerError: true }));
    // Chunked: the chunk that does not fit ends the upload.
    const chunked = await startUpload(reg, repo);
    const first = await reg.req('PATCH', chunked.location, { body: data.subarray(0, 256 * 1024), headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${256 * 1024 - 1}` } });
    assert.equal(first.status, 202, 'a chunk that fits is taken');
    const next = new URL(first.header('location')!, reg.url).toString();
    await refused('PATCH of a chunk', () => reg.req('PATCH', next, { body: data.subarray(256 * 1024), headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${256 * 1024}-${data.length - 1}` }, allowServerError: true }));
    assertError(await reg.req('GET', next), 404, 'BLOB_UPLOAD_UNKNOWN', 'status of the ended upload');
    assert.equal((await reg.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 404, 'no blob under the digest');
    assert.deepEqual(await leftovers(repo), [], 'no upload data or temp file is left');

    // With no space at all, not even an upload session starts.
    await disk.fill(0);
    await refused('POST of an upload session', () => reg.req('POST', `/v2/${repo}/blobs/uploads/`, { allowServerError: true }));
    assert.deepEqual(await leftovers(repo), []);

    // Reads go on: what was there pulls whole, listings answer.
    await pullsWhole(repo, 'before', imageBlobs(existing));
    assert.deepEqual((await reg.req('GET', `/v2/${repo}/tags/list`)).json().tags, ['before']);
    assert.ok(((await reg.req('GET', '/v2/_catalog')).json().repositories as string[]).includes(repo));

    // Space freed: the same pushes succeed.
    await disk.release();
    const again = await startUpload(reg, repo);
    assert.equal((await reg.req('PUT', withQuery(again.location, { digest: d }), { body: data, headers: { 'Content-Type': 'application/octet-stream' } })).status, 201);
    const other = random(3 * 1024 * 1024);
    const c = await startUpload(reg, repo);
    const p1 = await reg.req('PATCH', c.location, { body: other.subarray(0, 1024 * 1024), headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${1024 * 1024 - 1}` } });
    assert.equal(p1.status, 202);
    const p2 = await reg.req('PUT', withQuery(new URL(p1.header('location')!, reg.url).toString(), { digest: digest(other) }), { body: other.subarray(1024 * 1024), headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${1024 * 1024}-${other.length - 1}` } });
    assert.equal(p2.status, 201, p2.text());
    for (const [bytes, dg] of [[data, d], [other, digest(other)]] as const) {
      const got = await reg.req('GET', `/v2/${repo}/blobs/${dg}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(bytes), 'the blob pulls whole');
    }
    assert.deepEqual(await leftovers(repo), []);
  });

  it('refuses manifest and tag writes with 503 and changes no tag or manifest a client can see', async () => {
    const repo = repoName('full');
    const first = await pushImage(reg, repo, 'latest', { layerSize: 64 * 1024 });
    const config = imageConfig();
    const layer = blob(random(64 * 1024));
    await pushBlobs(reg, repo, [config, layer]);
    const second = ociManifest({ config: config.descriptor, layers: [layer.descriptor] });

    await disk.fill(0);
    const put = (ref: string, m: Manifest) => reg.req('PUT', `/v2/${repo}/manifests/${ref}`, { body: m.bytes, headers: { 'Content-Type': m.mediaType }, allowServerError: true });
    await refused('PUT of a new manifest by tag', () => put('next', second));
    await refused('PUT of a new manifest by digest', () => put(second.digest, second));
    await refused('PUT moving a tag', () => put('latest', second));
    await refused('PUT of a new tag for a stored manifest', () => put('also', first.manifest));
    assert.equal((await getManifest(reg, repo, second.digest)).status, 404, 'the refused manifest is not visible');
    assert.equal((await getManifest(reg, repo, 'next')).status, 404);
    assert.equal((await getManifest(reg, repo, 'also')).status, 404);
    assert.equal((await getManifest(reg, repo, 'latest')).header('docker-content-digest'), first.manifest.digest, 'the tag did not move');
    assert.deepEqual((await reg.req('GET', `/v2/${repo}/tags/list`)).json().tags, ['latest']);
    await pullsWhole(repo, 'latest', imageBlobs(first));
    assert.deepEqual(await leftovers(repo), []);

    await disk.release();
    assert.equal((await put('latest', second)).status, 201);
    assert.equal((await put('also', first.manifest)).status, 201);
    await pullsWhole(repo, 'latest', { manifest: second, blobs: [config, layer] });
    assert.deepEqual((await reg.req('GET', `/v2/${repo}/tags/list`)).json().tags, ['also', 'latest']);
  });
});

describe('disk full, saved listings (a filesystem that lists like an object store)', () => {
  let keyed: Registry;
  const savedCatalog = () => path.join(keyed.root, 'docker/registry/v2/_berth/catalog.json');
  const saved = async (): Promise<string[]> => JSON.parse(await readFile(savedCatalog(), 'utf8')).repositories;
  const savedHas = async (names: string[]) => {
    const list = await saved().catch(() => [] as string[]);
    return names.every((n) => list.includes(n));
  };

  before(async () => {
    registerKeyedFilesystem();
    const yaml = defaultYaml().replace('  filesystem:\n', `  ${KEYED_FILESYSTEM}:\n`);
    keyed = await startRegistry({ yaml, base: path.join(disk.dir, 'keyed') });
  });
  after(async () => {
    await keyed?.stop({ keep: true });
  });

  it('keeps the saved catalog whole while it cannot be written, answers listings from memory, and saves it once space is freed', async () => {
    const [r0, r1, r2, r3] = [repoName('saved'), repoName('saved'), repoName('saved'), repoName('saved')];
    const image = async (repo: string) => {
      const config = imageConfig();
      const layer = blob(random(1024));
      await pushBlobs(keyed, repo, [config, layer]);
      return ociManifest({ config: config.descriptor, layers: [layer.descriptor] });
    };
    const put = (repo: string, m: Manifest) => keyed.req('PUT', `/v2/${repo}/manifests/v1`, { body: m.bytes, headers: { 'Content-Type': m.mediaType } });

    assert.equal((await put(r0, await image(r0))).status, 201);
    await until(30_000, 'the catalog is saved', () => savedHas([r0]));
    // What a tagged manifest push takes on this disk (tmpfs counts pages), measured on r1.
    const m1 = await image(r1);
    const before1 = await disk.free();
    assert.equal((await put(r1, m1)).status, 201);
    const needs = before1 - (await disk.free());
    await until(30_000, 'the catalog is saved again', () => savedHas([r0, r1]));

    // Room for r2's push and nothing more: the save that follows it finds the disk full.
    const m2 = await image(r2);
    await disk.fill(needs);
    assert.equal((await put(r2, m2)).status, 201, 'the push fits');
    assert.equal(await disk.free(), 0, 'and fills the disk');
    // The save runs a second after the change and fails for lack of space: nothing torn, nothing left.
    await until(30_000, 'a save of the catalog is tried', () => failedPuts.some((f) => f.path === '/docker/registry/v2/_berth/catalog.json' && f.code === 'ENOSPC'));
    assert.deepEqual((await saved()).sort(), [r0, r1].sort(), 'the saved catalog is the last one written, whole');
    assert.deepEqual(await readdir(path.join(keyed.root, '.berth-tmp')).catch(() => []), [], 'no temp file is left');
    const listed = (await keyed.req('GET', '/v2/_catalog')).json().repositories as string[];
    assert.ok([r0, r1, r2].every((r) => listed.includes(r)), 'the catalog answers from memory');
    assert.deepEqual((await keyed.req('GET', `/v2/${r2}/tags/list`)).json().tags, ['v1']);

    await disk.release();
    assert.equal((await put(r3, await image(r3))).status, 201);
    await until(30_000, 'the catalog is saved once space is freed', () => savedHas([r0, r1, r2, r3]));
  });
});

describe('disk full, no inode left (folders cannot be made, as on a full ext4 disk)', () => {
  let small: SmallDisk;
  let full: Registry;

  before(async () => {
    small = await mountSmallDisk(16, { inodes: 400 });
    full = await startRegistry({ base: small.dir });
  });
  after(async () => {
    await full?.stop({ keep: true });
    await small?.remove();
  });

  it('refuses the writes that need a new folder with 503 (Node reports the parent as missing), and takes them once inodes are freed', async () => {
    const repo = repoName('inodes');
    const data = random(4096);
    const d = digest(data);
    const { location: started } = await startUpload(full, repo);
    const patched = await full.req('PATCH', started, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(patched.status, 202);
    const location = new URL(patched.header('location')!, full.url).toString();
    const { location: second } = await startUpload(full, repo);
    await small.fillInodes();

    // Ending the upload moves its data into a blob folder that does not exist yet.
    const end = await within(60_000, full.req('PUT', withQuery(second, { digest: d }), { body: data, headers: { 'Content-Type': 'application/octet-stream' }, allowServerError: true }), 'PUT ending an upload');
    assertError(end, 503, 'UNAVAILABLE', 'PUT ending an upload');
    assert.match(end.text(), NO_SPACE);
    // An upload in a repository that has no folder yet.
    const fresh = await within(60_000, full.req('POST', `/v2/${repoName('inodes-new')}/blobs/uploads/`, { allowServerError: true }), 'POST in a new repository');
    assertError(fresh, 503, 'UNAVAILABLE', 'POST in a new repository');
    assert.equal((await full.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 404, 'no blob under the digest');

    await small.release();
    assert.equal((await full.req('PUT', withQuery(location, { digest: d }))).status, 201, 'the first upload ends once inodes are free');
    assert.equal((await full.req('HEAD', `/v2/${repo}/blobs/${d}`)).status, 200);
  });
});
