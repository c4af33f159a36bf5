import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { blob, digest, emptyConfig, ociIndex, ociManifest, random, repoName, MT, type Manifest } from '../helpers/content.js';
import { assertError, pushBlobs, pushImage, pushManifest, type PushedImage } from '../helpers/push.js';
import { deviation } from '../helpers/target.js';

let reg: Registry;
const repo = repoName('refs');
let subject: PushedImage;
let sbom: Manifest;
let sig: Manifest;
let typedByConfig: Manifest;
let refIndex: Manifest;
const SBOM = 'application/vnd.example.sbom.v1';
const SIG = 'application/vnd.example.signature.v1';
const CFG = 'application/vnd.example.config.v1+json';

before(async () => {
  reg = await startRegistry();
  subject = await pushImage(reg, repo, 'app');
  const payload = blob('{"k":"v"}', 'application/vnd.example.payload');
  const cfg = blob('{"custom":true}', CFG);
  await pushBlobs(reg, repo, [emptyConfig, payload, cfg]);
  sbom = ociManifest({ artifactType: SBOM, config: emptyConfig.descriptor, layers: [payload.descriptor], subject: subject.manifest.descriptor, annotations: { 'org.example.format': 'json', 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' } });
  sig = ociManifest({ artifactType: SIG, config: emptyConfig.descriptor, layers: [emptyConfig.descriptor], subject: subject.manifest.descriptor });
  typedByConfig = ociManifest({ config: cfg.descriptor, layers: [payload.descriptor], subject: subject.manifest.descriptor, annotations: { note: 'no artifactType' } });
  for (const m of [sbom, sig, typedByConfig]) await pushManifest(reg, repo, m.digest, m);
  refIndex = ociIndex({ manifests: [sbom.descriptor], subject: subject.manifest.descriptor, annotations: { kind: 'index' } });
  await pushManifest(reg, repo, refIndex.digest, refIndex);
  // Noise: a manifest without subject, and a referrer of the same digest in another repository.
  await pushImage(reg, repo, 'unrelated');
  const other = repoName('refs-other');
  const otherImg = await pushImage(reg, other, 'x');
  await pushBlobs(reg, other, [emptyConfig]);
  await pushManifest(reg, other, 'elsewhere', ociManifest({ artifactType: SBOM, config: emptyConfig.descriptor, layers: [emptyConfig.descriptor], subject: subject.manifest.descriptor, annotations: { unique: otherImg.manifest.digest } }));
});
after(async () => { await reg?.stop(); });

function byDigest(a: { digest: string }, b: { digest: string }): number { return a.digest < b.digest ? -1 : 1; }

test('referrers lists every manifest whose subject is the digest, as an OCI index', deviation('referrers'), async () => {
  const res = await reg.req('GET', `/v2/${repo}/referrers/${subject.manifest.digest}`);
  assert.equal(res.status, 200);
  assert.equal(res.header('content-type'), MT.ociIndex);
  const body = res.json();
  assert.equal(body.schemaVersion, 2);
  assert.equal(body.mediaType, MT.ociIndex);
  const expected = [
    { mediaType: MT.ociManifest, digest: sbom.digest, size: sbom.bytes.length, artifactType: SBOM, annotations: sbom.json.annotations },
    { mediaType: MT.ociManifest, digest: sig.digest, size: sig.bytes.length, artifactType: SIG },
    // no artifactType in the manifest: the config media type stands in
    { mediaType: MT.ociManifest, digest: typedByConfig.digest, size: typedByConfig.bytes.length, artifactType: CFG, annotations: { note: 'no artifactType' } },
    // an index without artifactType: the field is omitted
    { mediaType: MT.ociIndex, digest: refIndex.digest, size: refIndex.bytes.length, annotations: { kind: 'index' } },
  ].sort(byDigest);
  const got = [...body.manifests].sort(byDigest);
  assert.equal(got.length, expected.length, JSON.stringify(body.manifests));
  for (let i = 0; i < expected.length; i++) {
    const g = got[i];
    const e = expected[i]!;
    assert.equal(g.mediaType, e.mediaType);
    assert.equal(g.digest, e.digest);
    assert.equal(g.size, e.size);
    assert.equal(g.artifactType, e.artifactType);
    assert.deepEqual(g.annotations ?? undefined, e.annotations);
  }
});

test('artifactType filter returns only matching referrers and says so in OCI-Filters-Applied', deviation('referrers'), async () => {
  const res = await reg.req('GET', `/v2/${repo}/referrers/${subject.manifest.digest}?artifactType=${encodeURIComponent(SBOM)}`);
  assert.equal(res.status, 200);
  assert.equal(res.header('oci-filters-applied'), 'artifactType');
  const body = res.json();
  assert.deepEqual(body.manifests.map((m: { digest: string }) => m.digest), [sbom.digest]);
});

test('a filter that matches nothing returns an empty index', deviation('referrers'), async () => {
  const res = await reg.req('GET', `/v2/${repo}/referrers/${subject.manifest.digest}?artifactType=application%2Fnone`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json().manifests, []);
});

test('a subject with no referrers (or unknown) returns 200 with an empty index', deviation('referrers'), async () => {
  for (const d of [subject.layers[0]!.digest, digest(random(16))]) {
    const res = await reg.req('GET', `/v2/${repo}/referrers/${d}`);
    assert.equal(res.status, 200);
    assert.equal(res.header('content-type'), MT.ociIndex);
    const body = res.json();
    assert.equal(body.schemaVersion, 2);
    assert.equal(body.mediaType, MT.ociIndex);
    assert.deepEqual(body.manifests, []);
  }
});

test('referrers in an unknown repository: 200 with an empty index', deviation('referrers'), async () => {
  const res = await reg.req('GET', `/v2/${repoName('ghost')}/referrers/${subject.manifest.digest}`);
  assert.equal(res.status, 200);
  assert.equal(res.header('content-type'), MT.ociIndex);
  assert.deepEqual(res.json(), { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] });
});

test('a malformed digest answers 400', deviation('referrers'), async () => {
  for (const bad of ['sha256:xyz', 'notadigest', `sha256:${'a'.repeat(63)}`]) {
    const res = await reg.req('GET', `/v2/${repo}/referrers/${bad}`);
    assert.equal(res.status, 400, `${bad}: ${res.status}`);
    assertError(res, 400, ['DIGEST_INVALID', 'MANIFEST_INVALID']);
  }
});

test('a deleted referrer leaves the list', deviation('referrers'), async () => {
  const r = repoName('refs-del');
  const img = await pushImage(reg, r, 'base');
  await pushBlobs(reg, r, [emptyConfig]);
  const a = ociManifest({ artifactType: SIG, config: emptyConfig.descriptor, layers: [emptyConfig.descriptor], subject: img.manifest.descriptor, annotations: { n: '1' } });
  const b = ociManifest({ artifactType: SIG, config: emptyConfig.descriptor, layers: [emptyConfig.descriptor], subject: img.manifest.descriptor, annotations: { n: '2' } });
  await pushManifest(reg, r, a.digest, a);
  await pushManifest(reg, r, b.digest, b);
  assert.equal((await reg.req('DELETE', `/v2/${r}/manifests/${a.digest}`)).status, 202);
  const res = await reg.req('GET', `/v2/${r}/referrers/${img.manifest.digest}`);
  assert.deepEqual(res.json().manifests.map((m: { digest: string }) => m.digest), [b.digest]);
});

test('a referrer pushed before its subject is listed once the subject exists', deviation('referrers'), async () => {
  const r = repoName('refs-early');
  const config = blob('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}', MT.ociConfig);
  await pushBlobs(reg, r, [emptyConfig, config]);
  const later = ociManifest({ config: config.descriptor, layers: [] });
  const early = ociManifest({ artifactType: SBOM, config: emptyConfig.descriptor, layers: [emptyConfig.descriptor], subject: later.descriptor });
  await pushManifest(reg, r, early.digest, early);
  const before = await reg.req('GET', `/v2/${r}/referrers/${later.digest}`);
  assert.deepEqual(before.json().manifests.map((m: { digest: string }) => m.digest), [early.digest]);
  await pushManifest(reg, r, 'later', later);
  const after = await reg.req('GET', `/v2/${r}/referrers/${later.digest}`);
  assert.deepEqual(after.json().manifests.map((m: { digest: string }) => m.digest), [early.digest]);
});
