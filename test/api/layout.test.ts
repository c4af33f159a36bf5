/**
 * Berth must read and write Distribution's on-disk layout (drop-in storage compatibility):
 *   <root>/docker/registry/v2/blobs/<alg>/<first two hex>/<hex>/data
 *   <root>/docker/registry/v2/repositories/<name>/_layers/<alg>/<hex>/link
 *   <root>/docker/registry/v2/repositories/<name>/_manifests/revisions/<alg>/<hex>/link
 *   <root>/docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
 *   <root>/docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link
 * A link file holds exactly the digest string.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { blob, imageConfig, ociManifest, random, MT } from '../helpers/content.js';
import { getManifest, pushImage, pushManifest, startUpload } from '../helpers/push.js';

const V2 = ['docker', 'registry', 'v2'];
function blobData(root: string, d: string): string {
  const [alg, hex] = d.split(':') as [string, string];
  return path.join(root, ...V2, 'blobs', alg, hex.slice(0, 2), hex, 'data');
}
function repoDir(root: string, name: string): string {
  return path.join(root, ...V2, 'repositories', ...name.split('/'));
}
function split(d: string): [string, string] { return d.split(':') as [string, string]; }

async function writeFileP(p: string, data: Buffer | string): Promise<void> {
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, data);
}

const started: Registry[] = [];
const dirs: string[] = [];
after(async () => {
  for (const r of started) await r.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('a storage tree written in Distribution layout is served', async () => {
  const base = await mkdtemp(path.join(os.tmpdir(), 'berth-layout-'));
  dirs.push(base);
  const root = path.join(base, 'storage');
  const name = 'fixture/app';
  const config = imageConfig();
  const layer = blob(random(2000));
  const m = ociManifest({ config: config.descriptor, layers: [layer.descriptor] }, { indent: 2 });
  for (const b of [config, layer]) {
    await writeFileP(blobData(root, b.digest), b.data);
    await writeFileP(path.join(repoDir(root, name), '_layers', ...split(b.digest), 'link'), b.digest);
  }
  await writeFileP(blobData(root, m.digest), m.bytes);
  await writeFileP(path.join(repoDir(root, name), '_manifests', 'revisions', ...split(m.digest), 'link'), m.digest);
  await writeFileP(path.join(repoDir(root, name), '_manifests', 'tags', 'stable', 'current', 'link'), m.digest);
  await writeFileP(path.join(repoDir(root, name), '_manifests', 'tags', 'stable', 'index', ...split(m.digest), 'link'), m.digest);

  const reg = await startRegistry({ base });
  started.push(reg);
  const byTag = await getManifest(reg, name, 'stable');
  assert.equal(byTag.status, 200);
  assert.ok(byTag.body.equals(m.bytes));
  assert.equal(byTag.header('content-type'), MT.ociManifest);
  assert.equal(byTag.header('docker-content-digest'), m.digest);
  const byDigest = await getManifest(reg, name, m.digest);
  assert.ok(byDigest.body.equals(m.bytes));
  const l = await reg.req('GET', `/v2/${name}/blobs/${layer.digest}`);
  assert.equal(l.status, 200);
  assert.ok(l.body.equals(layer.data));
  assert.deepEqual((await reg.req('GET', `/v2/${name}/tags/list`)).json(), { name, tags: ['stable'] });
  assert.deepEqual((await reg.req('GET', '/v2/_catalog')).json().repositories, [name]);
  // a blob present globally but not linked into the repository is not served through it
  const unlinked = blob(random(30));
  await writeFileP(blobData(root, unlinked.digest), unlinked.data);
  assert.equal((await reg.req('HEAD', `/v2/${name}/blobs/${unlinked.digest}`)).status, 404);
});

test('after pushes, the files are exactly where Distribution puts them, links holding the digest', async () => {
  const reg = await startRegistry();
  started.push(reg);
  const name = 'layout/written';
  const img = await pushImage(reg, name, 'v1');
  await pushManifest(reg, name, 'v2', img.manifest);
  for (const b of [img.config, ...img.layers]) {
    assert.ok((await readFile(blobData(reg.root, b.digest))).equals(b.data), `blob data for ${b.digest}`);
    assert.equal(await readFile(path.join(repoDir(reg.root, name), '_layers', ...split(b.digest), 'link'), 'utf8'), b.digest);
  }
  const m = img.manifest;
  assert.ok((await readFile(blobData(reg.root, m.digest))).equals(m.bytes), 'manifest bytes stored as a blob');
  assert.equal(await readFile(path.join(repoDir(reg.root, name), '_manifests', 'revisions', ...split(m.digest), 'link'), 'utf8'), m.digest);
  for (const t of ['v1', 'v2']) {
    assert.equal(await readFile(path.join(repoDir(reg.root, name), '_manifests', 'tags', t, 'current', 'link'), 'utf8'), m.digest);
    assert.equal(await readFile(path.join(repoDir(reg.root, name), '_manifests', 'tags', t, 'index', ...split(m.digest), 'link'), 'utf8'), m.digest);
  }
});

test('a moved tag keeps an index entry for every manifest it has pointed to', async () => {
  const reg = await startRegistry();
  started.push(reg);
  const name = 'layout/moved';
  const a = await pushImage(reg, name, 'rolling');
  const b = await pushImage(reg, name, 'rolling');
  const tagDir = path.join(repoDir(reg.root, name), '_manifests', 'tags', 'rolling');
  assert.equal(await readFile(path.join(tagDir, 'current', 'link'), 'utf8'), b.manifest.digest);
  for (const m of [a.manifest, b.manifest]) assert.equal(await readFile(path.join(tagDir, 'index', ...split(m.digest), 'link'), 'utf8'), m.digest);
});

test('an upload in progress lives under _uploads/<id> and is gone once completed', async () => {
  const reg = await startRegistry();
  started.push(reg);
  const name = 'layout/uploads';
  const { location, res } = await startUpload(reg, name);
  const id = res.header('docker-upload-uuid')!;
  const data = random(500);
  const patch = await reg.req('PATCH', location, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(patch.status, 202);
  const upDir = path.join(repoDir(reg.root, name), '_uploads', id);
  assert.ok((await stat(path.join(upDir, 'data'))).isFile(), '_uploads/<id>/data exists');
  assert.ok((await stat(path.join(upDir, 'startedat'))).isFile(), '_uploads/<id>/startedat exists');
  const d = blob(data).digest;
  const next = new URL(patch.header('location')!, reg.url);
  next.searchParams.set('digest', d);
  assert.equal((await reg.req('PUT', next.toString())).status, 201);
  const left = await readdir(path.join(repoDir(reg.root, name), '_uploads')).catch(() => [] as string[]);
  assert.ok(!left.includes(id), 'upload directory removed after commit');
  assert.ok((await readFile(blobData(reg.root, d))).equals(data));
});
