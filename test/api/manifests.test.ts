import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { blob, digest, dockerList, dockerManifest, emptyConfig, imageConfig, manifest, ociIndex, ociManifest, random, repoName, MT, withPlatform } from '../helpers/content.js';
import { ACCEPT_ALL, assertError, getManifest, pushBlobs, pushImage, pushManifest, putManifest } from '../helpers/push.js';
import { deviates, deviation } from '../helpers/target.js';

let reg: Registry;
let noDelete: Registry;
before(async () => {
  reg = await startRegistry();
  noDelete = await startRegistry({ deleteEnabled: false });
});
after(async () => { await reg?.stop(); await noDelete?.stop(); });

async function assertServed(r: Registry, repo: string, ref: string, m: { bytes: Buffer; mediaType: string; digest: string }): Promise<void> {
  const get = await getManifest(r, repo, ref);
  assert.equal(get.status, 200, `GET ${repo}:${ref}: ${get.status} ${get.text()}`);
  assert.ok(get.body.equals(m.bytes), 'GET returns the pushed bytes exactly');
  assert.equal(get.header('content-type'), m.mediaType);
  assert.equal(get.header('docker-content-digest'), m.digest);
  assert.equal(get.header('content-length'), String(m.bytes.length));
  const head = await getManifest(r, repo, ref, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(head.header('content-type'), m.mediaType);
  assert.equal(head.header('docker-content-digest'), m.digest);
  assert.equal(head.header('content-length'), String(m.bytes.length));
}

test('OCI image manifest: PUT by tag answers 201 with Location and Docker-Content-Digest; GET/HEAD by tag and digest', async () => {
  const repo = repoName('man');
  const config = imageConfig();
  const layer = blob(random(800));
  await pushBlobs(reg, repo, [config, layer]);
  const m = ociManifest({ config: config.descriptor, layers: [layer.descriptor] }, { indent: 2 });
  const res = await pushManifest(reg, repo, 'v1', m);
  assert.equal(res.header('docker-content-digest'), m.digest);
  const loc = new URL(res.header('location')!, reg.url);
  assert.equal(loc.pathname, `/v2/${repo}/manifests/${m.digest}`);
  const viaLocation = await reg.req('GET', loc.toString(), { headers: { Accept: ACCEPT_ALL } });
  assert.ok(viaLocation.body.equals(m.bytes));
  await assertServed(reg, repo, 'v1', m);
  await assertServed(reg, repo, m.digest, m);
});

test('PUT by digest stores an untagged manifest', async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo);
  await assertServed(reg, repo, img.manifest.digest, img.manifest);
});

test('tags/list of a repository with only untagged manifests is 200 with an empty list', deviation('emptyTagList'), async () => {
  const repo = repoName('man');
  await pushImage(reg, repo);
  const tags = await reg.req('GET', `/v2/${repo}/tags/list`);
  assert.equal(tags.status, 200);
  assert.equal(tags.json().name, repo);
  assert.deepEqual(tags.json().tags ?? [], []);
});

test('Docker schema2 manifest round-trips with its media type', async () => {
  const repo = repoName('man');
  const config = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }), MT.dockerConfig);
  const layer = blob(random(300), MT.dockerLayer);
  await pushBlobs(reg, repo, [config, layer]);
  const m = dockerManifest({ config: config.descriptor, layers: [layer.descriptor] });
  await pushManifest(reg, repo, 'docker', m);
  await assertServed(reg, repo, 'docker', m);
  await assertServed(reg, repo, m.digest, m);
});

test('Docker manifest list referencing two schema2 manifests round-trips', async () => {
  const repo = repoName('man');
  const children = [];
  for (let i = 0; i < 2; i++) {
    const config = blob(JSON.stringify({ architecture: i ? 'arm64' : 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }), MT.dockerConfig);
    const layer = blob(random(100), MT.dockerLayer);
    await pushBlobs(reg, repo, [config, layer]);
    const m = dockerManifest({ config: config.descriptor, layers: [layer.descriptor] });
    await pushManifest(reg, repo, m.digest, m);
    children.push(m.descriptor);
  }
  const list = dockerList(children);
  await pushManifest(reg, repo, 'multi', list);
  await assertServed(reg, repo, 'multi', list);
  await assertServed(reg, repo, list.digest, list);
});

test('OCI image index referencing two OCI manifests round-trips', async () => {
  const repo = repoName('man');
  const a = await pushImage(reg, repo);
  const b = await pushImage(reg, repo);
  const idx = ociIndex({ manifests: [withPlatform(a.manifest.descriptor, 'amd64'), withPlatform(b.manifest.descriptor, 'arm64')], annotations: { 'org.example.k': 'v' } });
  await pushManifest(reg, repo, 'idx', idx);
  await assertServed(reg, repo, 'idx', idx);
  await assertServed(reg, repo, idx.digest, idx);
});

test('OCI artifact (artifactType, empty config with data, custom layers, unknown fields, odd whitespace) is stored byte-exact', async () => {
  const repo = repoName('man');
  const layer = blob('{"sbom":true}', 'application/vnd.example.sbom.v1+json');
  await pushBlobs(reg, repo, [emptyConfig, layer]);
  const raw = `{ "schemaVersion" :2,\n\t"mediaType":"${MT.ociManifest}",  "artifactType": "application/vnd.example.sbom.v1",\r\n`
    + `"config": {"mediaType":"${MT.ociEmpty}","digest":"${emptyConfig.digest}","size":2,"data":"e30="},`
    + `"layers":[ {"mediaType":"${layer.descriptor.mediaType}","digest":"${layer.digest}","size":${layer.data.length},"annotations":{"org.opencontainers.image.title":"sbom.json"}} ],`
    + `"annotations":{"org.example.\\u00e9":"caf\\u00e9 \u00e9"},"x-unknown-field":{"nested":[1,2.50,true,null]},"zz":"kept"   }\n\n`;
  JSON.parse(raw); // it is valid JSON
  const m = manifest(undefined, MT.ociManifest, { raw });
  const res = await pushManifest(reg, repo, 'sbom', m);
  assert.equal(res.header('docker-content-digest'), m.digest);
  await assertServed(reg, repo, 'sbom', m);
  await assertServed(reg, repo, m.digest, m);
});

test('PUT by a digest that does not match the body answers 400 DIGEST_INVALID and stores nothing', async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo);
  const other = ociManifest({ config: img.config.descriptor, layers: [img.layers[0]!.descriptor], annotations: { x: 'y' } });
  const res = await putManifest(reg, repo, img.manifest.digest.replace(/.$/, (c) => (c === '0' ? '1' : '0')), other);
  assertError(res, 400, 'DIGEST_INVALID');
  assertError(await getManifest(reg, repo, other.digest), 404, 'MANIFEST_UNKNOWN');
});

test('a manifest referencing a layer the repository lacks answers MANIFEST_BLOB_UNKNOWN', async () => {
  const repo = repoName('man');
  const config = imageConfig();
  await pushBlobs(reg, repo, [config]);
  const missing = blob(random(50));
  const m = ociManifest({ config: config.descriptor, layers: [missing.descriptor] });
  const res = await putManifest(reg, repo, 'broken', m);
  assertError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
  assertError(await getManifest(reg, repo, 'broken'), 404, ['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);
});

test('a manifest whose config blob is missing answers MANIFEST_BLOB_UNKNOWN', async () => {
  const repo = repoName('man');
  const layer = blob(random(50));
  await pushBlobs(reg, repo, [layer]);
  const m = ociManifest({ config: imageConfig().descriptor, layers: [layer.descriptor] });
  assertError(await putManifest(reg, repo, 'noconfig', m), 400, 'MANIFEST_BLOB_UNKNOWN');
});

test('a layer that exists only in another repository counts as missing', async () => {
  const repo = repoName('man');
  const elsewhere = repoName('man-else');
  const config = imageConfig();
  const layer = blob(random(50));
  await pushBlobs(reg, elsewhere, [layer]);
  await pushBlobs(reg, repo, [config]);
  const m = ociManifest({ config: config.descriptor, layers: [layer.descriptor] });
  assertError(await putManifest(reg, repo, 'x', m), 400, 'MANIFEST_BLOB_UNKNOWN');
});

test('an index whose child manifest is unknown answers MANIFEST_BLOB_UNKNOWN', async () => {
  const repo = repoName('man');
  await pushImage(reg, repo, 'present');
  const ghost = ociManifest({ config: imageConfig().descriptor, layers: [] });
  const idx = ociIndex({ manifests: [withPlatform(ghost.descriptor, 'amd64')] });
  assertError(await putManifest(reg, repo, 'idx', idx), 400, 'MANIFEST_BLOB_UNKNOWN');
});

/** The digests named by the errors of a response, each error carrying `code`. */
function errorDigests(res: { json(): unknown }, code: string): string[] {
  const { errors } = res.json() as { errors: { code: string; detail?: unknown }[] };
  return errors.map((e) => {
    assert.equal(e.code, code, JSON.stringify(errors));
    const found = JSON.stringify(e.detail ?? '').match(/sha256:[0-9a-f]{64}/);
    assert.ok(found, `error detail names the digest: ${JSON.stringify(e)}`);
    return found[0];
  });
}

test('a manifest missing several blobs answers 400 with one MANIFEST_BLOB_UNKNOWN per missing blob', async () => {
  const repo = repoName('man');
  const config = imageConfig();
  const present = blob(random(40));
  const missing = [blob(random(41)), blob(random(42))];
  await pushBlobs(reg, repo, [present]);
  const m = ociManifest({ config: config.descriptor, layers: [missing[0]!.descriptor, present.descriptor, missing[1]!.descriptor] });
  const res = await putManifest(reg, repo, 'gaps', m);
  assertError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
  assert.deepEqual(errorDigests(res, 'MANIFEST_BLOB_UNKNOWN').sort(), [config.digest, missing[0]!.digest, missing[1]!.digest].sort());
});

test('an index missing several children answers 400 with one MANIFEST_BLOB_UNKNOWN per missing child', async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo, 'present');
  const ghosts = ['arm64', 's390x'].map((arch) => withPlatform(ociManifest({ config: imageConfig().descriptor, layers: [] }).descriptor, arch));
  const idx = ociIndex({ manifests: [ghosts[0]!, withPlatform(img.manifest.descriptor, 'amd64'), ghosts[1]!] });
  const res = await putManifest(reg, repo, 'idx', idx);
  assertError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
  assert.deepEqual(errorDigests(res, 'MANIFEST_BLOB_UNKNOWN').sort(), ghosts.map((g) => g.digest).sort());
});

test('validation.manifests.indexes: platforms none accepts an index of absent children; list requires only the listed platforms', deviation('indexValidation'), async () => {
  const yaml = (v: string) => ['validation:', '  manifests:', '    indexes:', ...v.split('\n').map((l) => `      ${l}`)].join('\n');
  const none = await startRegistry({ extraYaml: yaml('platforms: none') });
  const list = await startRegistry({ extraYaml: yaml('platforms: list\nplatformlist:\n  - os: linux\n    architecture: amd64') });
  try {
    const ghost = (arch: string) => withPlatform(ociManifest({ config: imageConfig().descriptor, layers: [] }).descriptor, arch);
    const repo = repoName('man');
    const arm = ghost('arm64');
    const amd = ghost('amd64');
    const idx = ociIndex({ manifests: [amd, arm] });
    assert.equal((await putManifest(none, repo, 'idx', idx)).status, 201);
    assert.ok((await getManifest(none, repo, 'idx')).body.equals(idx.bytes));
    const refused = await putManifest(list, repo, 'idx', idx);
    assertError(refused, 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.deepEqual(errorDigests(refused, 'MANIFEST_BLOB_UNKNOWN'), [amd.digest], 'only the listed platform is required');
    const img = await pushImage(list, repo, 'amd64');
    const ok = ociIndex({ manifests: [withPlatform(img.manifest.descriptor, 'amd64'), arm] });
    assert.equal((await putManifest(list, repo, 'idx', ok)).status, 201);
  } finally {
    await none.stop();
    await list.stop();
  }
});

test('a manifest with a subject that does not exist yet is accepted', async () => {
  const repo = repoName('man');
  await pushBlobs(reg, repo, [emptyConfig]);
  const absent = ociManifest({ config: imageConfig().descriptor, layers: [] });
  const m = ociManifest({ artifactType: 'application/vnd.example.sig', config: emptyConfig.descriptor, layers: [emptyConfig.descriptor], subject: absent.descriptor });
  const res = await putManifest(reg, repo, m.digest, m);
  assert.equal(res.status, 201, res.text());
});

test('PUT with a subject answers OCI-Subject with the subject digest', deviation('ociSubject'), async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo, 'base');
  await pushBlobs(reg, repo, [emptyConfig]);
  const m = ociManifest({ artifactType: 'application/vnd.example.sig', config: emptyConfig.descriptor, layers: [emptyConfig.descriptor], subject: img.manifest.descriptor });
  const res = await pushManifest(reg, repo, m.digest, m);
  assert.equal(res.header('oci-subject'), img.manifest.digest);
  const plain = await pushImage(reg, repo, 'plain');
  const again = await pushManifest(reg, repo, 'plain2', plain.manifest);
  assert.equal(again.header('oci-subject'), undefined, 'no OCI-Subject without a subject');
});

test('invalid JSON answers 400 MANIFEST_INVALID', async () => {
  const repo = repoName('man');
  await pushImage(reg, repo, 'ok');
  for (const body of ['{not json', '', '[]', '"str"']) {
    const res = await reg.req('PUT', `/v2/${repo}/manifests/bad`, { body, headers: { 'Content-Type': MT.ociManifest } });
    assertError(res, 400, 'MANIFEST_INVALID', JSON.stringify(body));
  }
});

test('wrong schemaVersion answers 400 MANIFEST_INVALID', deviation('schemaVersion500'), async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo);
  for (const schemaVersion of [1, 3, '2']) {
    const m = manifest({ ...img.manifest.json, schemaVersion }, MT.ociManifest);
    assertError(await putManifest(reg, repo, 'sv', m), 400, 'MANIFEST_INVALID', `schemaVersion ${JSON.stringify(schemaVersion)}`);
  }
});

test('a mediaType field that disagrees with Content-Type answers 400 MANIFEST_INVALID', async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo);
  const m = manifest({ ...img.manifest.json, mediaType: MT.ociIndex }, MT.ociManifest);
  assertError(await putManifest(reg, repo, 'mt', m, MT.ociManifest), 400, 'MANIFEST_INVALID');
});

test('an unknown Content-Type answers 400 MANIFEST_INVALID', async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo);
  const m = manifest({ ...img.manifest.json }, MT.ociManifest);
  const res = await putManifest(reg, repo, 'ct', m, 'application/x-unknown-manifest');
  assertError(res, 400, 'MANIFEST_INVALID');
});

test('Content-Type parameters are ignored on PUT', async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo);
  const m = ociManifest({ config: img.config.descriptor, layers: [img.layers[0]!.descriptor], annotations: { p: 'q' } });
  const res = await putManifest(reg, repo, 'params', m, `${MT.ociManifest}; charset=utf-8`);
  assert.equal(res.status, 201, res.text());
  const get = await getManifest(reg, repo, 'params');
  assert.equal(get.header('content-type'), MT.ociManifest);
});

/** A manifest of exactly `size` bytes (padded with an annotation) whose blobs exist in `repo`. */
async function manifestOfSize(repo: string, size: number) {
  const img = await pushImage(reg, repo);
  const make = (pad: string) => ociManifest({ config: img.config.descriptor, layers: [img.layers[0]!.descriptor], annotations: { pad } });
  const m = make('x'.repeat(size - make('').bytes.length));
  assert.equal(m.bytes.length, size);
  return m;
}

/** PUT with Content-Length, or streamed in chunks with Transfer-Encoding: chunked and no length. */
function putSized(repo: string, ref: string, m: { bytes: Buffer; mediaType: string }, withLength: boolean) {
  const body = withLength ? m.bytes : Readable.from([m.bytes.subarray(0, 1 << 20), m.bytes.subarray(1 << 20)]);
  return reg.req('PUT', `/v2/${repo}/manifests/${ref}`, { body, headers: { 'Content-Type': m.mediaType } });
}

// The spec asks registries to accept manifests of at least 4 MiB; Berth's limit is exactly 4 MiB.
for (const withLength of [true, false]) {
  const how = withLength ? 'with Content-Length' : 'chunked, without Content-Length';
  test(`a manifest of exactly 4 MiB is accepted (${how})`, async () => {
    const repo = repoName('man');
    const m = await manifestOfSize(repo, 4 * 1024 * 1024);
    const res = await putSized(repo, 'edge', m, withLength);
    assert.equal(res.status, 201, res.text());
    assert.equal(res.header('docker-content-digest'), m.digest);
    await assertServed(reg, repo, 'edge', m);
  });

  test(`a manifest of 4 MiB + 1 byte answers 413 MANIFEST_INVALID and is not stored (${how})`, deviation('manifestSize413'), async () => {
    const repo = repoName('man');
    const m = await manifestOfSize(repo, 4 * 1024 * 1024 + 1);
    assertError(await putSized(repo, 'over', m, withLength), 413, 'MANIFEST_INVALID');
    assertError(await getManifest(reg, repo, 'over'), 404, 'MANIFEST_UNKNOWN');
    assertError(await getManifest(reg, repo, m.digest), 404, 'MANIFEST_UNKNOWN');
  });
}

test('a manifest far over the size limit (8 MiB) answers 413 MANIFEST_INVALID', deviation('manifestSize413'), async () => {
  const repo = repoName('man');
  const m = await manifestOfSize(repo, 8 * 1024 * 1024);
  assertError(await putManifest(reg, repo, 'huge', m), 413, 'MANIFEST_INVALID');
  assertError(await getManifest(reg, repo, 'huge'), 404, 'MANIFEST_UNKNOWN');
});

test('GET by tag with an Accept that excludes the stored type returns the stored bytes and type', deviation('acceptNegotiation'), async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo, 'neg');
  const res = await getManifest(reg, repo, 'neg', 'GET', MT.dockerManifest);
  assert.equal(res.status, 200);
  assert.equal(res.header('content-type'), MT.ociManifest);
  assert.ok(res.body.equals(img.manifest.bytes));
});

test('GET by digest with an unrelated Accept returns the stored bytes and type', deviation('acceptNegotiation'), async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo);
  const res = await getManifest(reg, repo, img.manifest.digest, 'GET', 'application/json');
  assert.equal(res.status, 200);
  assert.equal(res.header('content-type'), MT.ociManifest);
  assert.ok(res.body.equals(img.manifest.bytes));
});

test('a Docker schema1 manifest is refused', async () => {
  const repo = repoName('man');
  const s1 = manifest({ schemaVersion: 1, name: repo, tag: 'old', architecture: 'amd64', fsLayers: [], history: [], signatures: [] }, MT.dockerSchema1Signed);
  const res = await putManifest(reg, repo, 'old', s1);
  assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
  assertError(res, [400, 404, 415], ['MANIFEST_INVALID', 'MANIFEST_UNVERIFIED', 'UNSUPPORTED', 'MANIFEST_BLOB_UNKNOWN']);
});

test('a tag can move to another manifest; the old one stays reachable by digest', async () => {
  const repo = repoName('man');
  const a = await pushImage(reg, repo, 'moving');
  const b = await pushImage(reg, repo, 'moving');
  await assertServed(reg, repo, 'moving', b.manifest);
  await assertServed(reg, repo, a.manifest.digest, a.manifest);
});

test('one manifest under two tags resolves through both', async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo, 't1');
  await pushManifest(reg, repo, 't2', img.manifest);
  await assertServed(reg, repo, 't1', img.manifest);
  await assertServed(reg, repo, 't2', img.manifest);
});

test('DELETE by tag removes only the tag; the manifest is still served by digest', deviation('tagDelete'), async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo, 'gone');
  await pushManifest(reg, repo, 'kept', img.manifest);
  const del = await reg.req('DELETE', `/v2/${repo}/manifests/gone`);
  assert.equal(del.status, 202);
  assertError(await getManifest(reg, repo, 'gone'), 404, 'MANIFEST_UNKNOWN');
  await assertServed(reg, repo, img.manifest.digest, img.manifest);
  await assertServed(reg, repo, 'kept', img.manifest);
  const tags = (await reg.req('GET', `/v2/${repo}/tags/list`)).json();
  assert.deepEqual(tags.tags, ['kept']);
});

test('DELETE by digest removes the manifest and every tag pointing to it', async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo, 'a');
  await pushManifest(reg, repo, 'b', img.manifest);
  const keep = await pushImage(reg, repo, 'c');
  const del = await reg.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`);
  assert.equal(del.status, 202);
  assertError(await getManifest(reg, repo, img.manifest.digest), 404, 'MANIFEST_UNKNOWN');
  assert.equal((await getManifest(reg, repo, img.manifest.digest, 'HEAD')).status, 404);
  assertError(await getManifest(reg, repo, 'a'), 404, 'MANIFEST_UNKNOWN');
  assertError(await getManifest(reg, repo, 'b'), 404, 'MANIFEST_UNKNOWN');
  await assertServed(reg, repo, 'c', keep.manifest);
});

test('DELETE of an unknown manifest answers 404 MANIFEST_UNKNOWN', async () => {
  const repo = repoName('man');
  await pushImage(reg, repo, 'x');
  const unknown = digest(random(10));
  assertError(await reg.req('DELETE', `/v2/${repo}/manifests/${unknown}`), 404, 'MANIFEST_UNKNOWN');
});

test('DELETE of an unknown tag answers 404 MANIFEST_UNKNOWN', deviation('tagDelete'), async () => {
  const repo = repoName('man');
  await pushImage(reg, repo, 'x');
  assertError(await reg.req('DELETE', `/v2/${repo}/manifests/nosuchtag`), 404, 'MANIFEST_UNKNOWN');
});

test('DELETE manifest when delete is disabled answers 405 UNSUPPORTED and keeps it', async () => {
  const repo = repoName('man');
  const img = await pushImage(noDelete, repo, 'keep');
  assertError(await noDelete.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`), 405, 'UNSUPPORTED');
  const byTag = await noDelete.req('DELETE', `/v2/${repo}/manifests/keep`);
  assertError(byTag, [400, 405], ['UNSUPPORTED', 'DIGEST_INVALID']);
  assert.equal((await getManifest(noDelete, repo, 'keep')).status, 200);
});

test('unknown manifest in a known repository answers 404 MANIFEST_UNKNOWN (HEAD: no body)', async () => {
  const repo = repoName('man');
  await pushImage(reg, repo, 'exists');
  assertError(await getManifest(reg, repo, 'missing'), 404, 'MANIFEST_UNKNOWN');
  assertError(await getManifest(reg, repo, digest(random(5))), 404, 'MANIFEST_UNKNOWN');
  const head = await getManifest(reg, repo, 'missing', 'HEAD');
  assert.equal(head.status, 404);
  assert.equal(head.body.length, 0);
});

test('a lookup by a reference that is neither a tag nor a digest answers 404 MANIFEST_UNKNOWN (GET, HEAD, DELETE)', async () => {
  // Clients and conformance suites probe with such names (".INVALID_MANIFEST_NAME") and expect
  // "not found"; only a PUT, which would create the tag, is refused as invalid.
  const repo = repoName('man');
  const img = await pushImage(reg, repo, 'exists');
  for (const ref of ['.INVALID_MANIFEST_NAME', '-dash', 'x'.repeat(129)]) {
    for (const method of ['GET', 'DELETE'] as const) {
      const res = await reg.req(method, `/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT_ALL } });
      if (deviates('invalidReference404')) assert.equal(res.status, 404, `${method} ${ref}`);
      else assertError(res, 404, 'MANIFEST_UNKNOWN', `${method} ${ref}`);
    }
    const head = await getManifest(reg, repo, ref, 'HEAD');
    assert.equal(head.status, 404, `HEAD ${ref}`);
    assert.equal(head.body.length, 0);
  }
  const put = await putManifest(reg, repo, '.INVALID_MANIFEST_NAME', img.manifest);
  if (deviates('invalidReference404')) assert.ok(put.status >= 400 && put.status < 500, `PUT: ${put.status}`);
  else assertError(put, 400, 'TAG_INVALID');
});

test('manifest in an unknown repository answers 404 NAME_UNKNOWN or MANIFEST_UNKNOWN', async () => {
  assertError(await getManifest(reg, repoName('ghost'), 'latest'), 404, ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN']);
});

test('a malformed digest reference answers 400 DIGEST_INVALID (or 404), never a server error', deviation('malformedDigest500'), async () => {
  const repo = repoName('man');
  await pushImage(reg, repo, 'x');
  for (const bad of ['sha256:xyz', `sha256:${'0'.repeat(63)}`]) {
    const res = await getManifest(reg, repo, bad);
    assert.ok([400, 404].includes(res.status), `${bad}: ${res.status}`);
    assertError(res, [400, 404], ['DIGEST_INVALID', 'MANIFEST_UNKNOWN', 'TAG_INVALID', 'MANIFEST_INVALID']);
  }
});

test('a digest reference with an unregistered algorithm answers 4xx, never a server error', deviation('malformedDigest500'), async () => {
  const repo = repoName('man');
  await pushImage(reg, repo, 'x');
  for (const bad of [`md5:${'0'.repeat(32)}`, `sha384:${'0'.repeat(96)}`]) {
    const res = await getManifest(reg, repo, bad);
    assert.ok([400, 404].includes(res.status), `${bad}: ${res.status}`);
  }
});

test('sha512 manifest digest: PUT and GET by sha512 reference', deviation('sha512'), async () => {
  const repo = repoName('man');
  const img = await pushImage(reg, repo, 'tagged');
  const m = manifest(img.manifest.json, MT.ociManifest, { algorithm: 'sha512', indent: 1 });
  const res = await putManifest(reg, repo, m.digest, m);
  assert.equal(res.status, 201, res.text());
  assert.equal(res.header('docker-content-digest'), m.digest);
  const get = await getManifest(reg, repo, m.digest);
  assert.equal(get.status, 200);
  assert.ok(get.body.equals(m.bytes));
});

const URLS_YAML = [
  'validation:',
  '  manifests:',
  '    urls:',
  '      allow:',
  '        - ^https://foreign\\.example\\.com/',
  '      deny:',
  '        - ^https://foreign\\.example\\.com/blocked/',
].join('\n');

test('validation.manifests.urls: allowed URLs on non-distributable layers are accepted without the blob', async () => {
  const withUrls = await startRegistry({ extraYaml: URLS_YAML });
  try {
    const repo = repoName('urls');
    const config = imageConfig();
    await pushBlobs(withUrls, repo, [config]);
    const foreign = (url: string, mediaType: string = MT.ociLayerNondist) => ({ ...blob(random(64)).descriptor, mediaType, urls: [url] });
    // allowed: the layer blob itself need not be in the registry
    const ok = ociManifest({ config: config.descriptor, layers: [foreign('https://foreign.example.com/layer.tgz')] });
    const put = await putManifest(withUrls, repo, 'ok', ok);
    assert.equal(put.status, 201, put.text());
    assert.ok((await getManifest(withUrls, repo, 'ok')).body.equals(ok.bytes));
    // Docker foreign layers follow the same lists
    const dcfg = blob(JSON.stringify({ architecture: 'amd64', os: 'windows', rootfs: { type: 'layers', diff_ids: [] } }), MT.dockerConfig);
    await pushBlobs(withUrls, repo, [dcfg]);
    const dm = dockerManifest({ config: dcfg.descriptor, layers: [foreign('https://foreign.example.com/base.tgz', MT.dockerForeignLayer)] });
    assert.equal((await putManifest(withUrls, repo, 'win', dm)).status, 201);
  } finally {
    await withUrls.stop();
  }
});

test('validation.manifests.urls: denied or unlisted URLs are refused with 400', deviation('urlValidation500'), async () => {
  const withUrls = await startRegistry({ extraYaml: URLS_YAML });
  try {
    const repo = repoName('urls');
    const config = imageConfig();
    await pushBlobs(withUrls, repo, [config]);
    for (const url of ['https://foreign.example.com/blocked/layer.tgz', 'https://elsewhere.example.org/layer.tgz']) {
      const m = ociManifest({ config: config.descriptor, layers: [{ ...blob(random(64)).descriptor, mediaType: MT.ociLayerNondist, urls: [url] }] });
      assertError(await putManifest(withUrls, repo, 'bad', m), 400, ['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID'], url);
      assert.equal((await getManifest(withUrls, repo, 'bad')).status, 404);
    }
  } finally {
    await withUrls.stop();
  }
});

test('without validation.manifests.urls, non-distributable and foreign layers with URLs are accepted without their blobs and served byte for byte', deviation('urlsWithoutAllow'), async () => {
  const repo = repoName('urls');
  const config = imageConfig();
  const local = blob(random(70));
  await pushBlobs(reg, repo, [config, local]);
  const foreign = [
    { ...blob(random(64)).descriptor, mediaType: MT.ociLayerNondist, urls: ['https://foreign.example.com/x.tgz'] },
    { ...blob(random(65)).descriptor, mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar', urls: ['http://mirror.example.org/y.tar', 'https://foreign.example.com/y.tar'] },
  ];
  const m = ociManifest({ config: config.descriptor, layers: [foreign[0]!, local.descriptor, foreign[1]!] }, { indent: 3 });
  const put = await putManifest(reg, repo, 'x', m);
  assert.equal(put.status, 201, put.text());
  await assertServed(reg, repo, 'x', m);
  await assertServed(reg, repo, m.digest, m);
  // the foreign blobs were never pushed, and pulling the manifest does not make them appear
  for (const f of foreign) assertError(await reg.req('GET', `/v2/${repo}/blobs/${f.digest}`), 404, 'BLOB_UNKNOWN');
  // Docker's foreign layers (Windows base images) likewise
  const dcfg = blob(JSON.stringify({ architecture: 'amd64', os: 'windows', rootfs: { type: 'layers', diff_ids: [] } }), MT.dockerConfig);
  await pushBlobs(reg, repo, [dcfg]);
  const dm = dockerManifest({ config: dcfg.descriptor, layers: [{ ...blob(random(66)).descriptor, mediaType: MT.dockerForeignLayer, urls: ['https://mcr.example.com/windows/base.tgz'] }] });
  assert.equal((await putManifest(reg, repo, 'win', dm)).status, 201);
  await assertServed(reg, repo, 'win', dm);
  // a URL that is not http(s), or carries a fragment, is still refused
  for (const url of ['ftp://foreign.example.com/x.tgz', 'https://foreign.example.com/x.tgz#frag', 'not a url']) {
    const bad = ociManifest({ config: config.descriptor, layers: [{ ...blob(random(64)).descriptor, mediaType: MT.ociLayerNondist, urls: [url] }] });
    assertError(await putManifest(reg, repo, 'bad', bad), 400, 'MANIFEST_INVALID', url);
  }
  // a non-distributable layer without URLs is a layer like any other: its blob must be here
  const missing = blob(random(67));
  const noUrls = ociManifest({ config: config.descriptor, layers: [{ ...missing.descriptor, mediaType: MT.ociLayerNondist }] });
  assertError(await putManifest(reg, repo, 'nourls', noUrls), 400, 'MANIFEST_BLOB_UNKNOWN');
});

test('validation.manifests.urls.deny alone refuses what it matches and allows the rest', deviation('urlsWithoutAllow'), async () => {
  const denyOnly = await startRegistry({ extraYaml: ['validation:', '  manifests:', '    urls:', '      deny:', '        - ^https?://blocked\\.example\\.com/'].join('\n') });
  try {
    const repo = repoName('urls');
    const config = imageConfig();
    await pushBlobs(denyOnly, repo, [config]);
    const withUrl = (url: string) => ociManifest({ config: config.descriptor, layers: [{ ...blob(random(64)).descriptor, mediaType: MT.ociLayerNondist, urls: [url] }] });
    assert.equal((await putManifest(denyOnly, repo, 'ok', withUrl('https://elsewhere.example.com/a.tgz'))).status, 201);
    assertError(await putManifest(denyOnly, repo, 'bad', withUrl('https://blocked.example.com/a.tgz')), 400, 'MANIFEST_INVALID');
  } finally {
    await denyOnly.stop();
  }
});
