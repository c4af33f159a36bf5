/**
 * berth.referrers.fallbacktags: beside the referrers API, Berth keeps the distribution spec's
 * referrers tag schema (`<alg>-<ref>`, an image index of the subject's referrers) as referrers come
 * and go; off, no such tag appears. The storage then moves to Distribution 2.8.2, which has no
 * referrers API, and a client (Berth's own, falling back to the tag as the spec says) finds the
 * referrers there.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Registry as Client } from '../../src/client/remote/registry.js';
import { digestOf, parseDigest } from '../../src/oci/digest.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { blob, emptyConfig, manifest, ociManifest, repoName, MT, type Manifest } from '../helpers/content.js';
import { assertError, getManifest, pushBlobs, pushImage, pushManifest, type PushedImage } from '../helpers/push.js';
import { target } from '../helpers/target.js';
import { startRegistry as startChild } from '../clients/harness.js';

const skip = target === 'distribution' ? 'berth.referrers.fallbacktags is a Berth setting' : false;
const FALLBACK = 'berth:\n  referrers:\n    fallbacktags: true';
const SIG = 'application/vnd.example.signature.v1';
const SBOM = 'application/vnd.example.sbom.v1';

function tagOf(digest: string): string {
  const [alg, hex] = digest.split(':') as [string, string];
  return `${alg}-${hex.slice(0, 64)}`;
}

async function pushReferrer(reg: Registry, repo: string, subject: PushedImage, artifactType: string, annotations: Record<string, string>): Promise<Manifest> {
  const payload = blob(`{"for":"${subject.manifest.digest}","type":"${artifactType}"}`, 'application/vnd.example.payload');
  await pushBlobs(reg, repo, [emptyConfig, payload]);
  const m = ociManifest({ artifactType, config: emptyConfig.descriptor, layers: [payload.descriptor], subject: subject.manifest.descriptor, annotations });
  const res = await pushManifest(reg, repo, m.digest, m);
  assert.equal(res.header('oci-subject'), subject.manifest.digest);
  return m;
}

/** The fallback tag's index, checked against what the referrers API answers at the same moment. */
async function fallbackIndex(reg: Registry, repo: string, subject: string): Promise<{ digest: string; manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[] } | undefined> {
  const res = await getManifest(reg, repo, tagOf(subject));
  if (res.status === 404) return undefined;
  assert.equal(res.status, 200, res.text());
  assert.equal(res.header('content-type'), MT.ociIndex);
  const api = await reg.req('GET', `/v2/${repo}/referrers/${subject}`);
  assert.deepEqual(res.json(), api.json(), 'the tag holds what the referrers API answers');
  return { digest: res.header('docker-content-digest')!, manifests: res.json().manifests };
}

describe('referrers fallback tags', { skip }, () => {
  let reg: Registry;
  let off: Registry;
  before(async () => {
    reg = await startRegistry({ extraYaml: FALLBACK });
    off = await startRegistry();
  });
  after(async () => {
    await reg?.stop();
    await off?.stop();
  });

  test('kept as referrers are pushed and deleted; removed with the last one', async () => {
    const repo = repoName('fallback');
    const subject = await pushImage(reg, repo, 'v1');
    assert.equal(await fallbackIndex(reg, repo, subject.manifest.digest), undefined);

    const sig = await pushReferrer(reg, repo, subject, SIG, { 'org.example.signer': 'alice' });
    const first = await fallbackIndex(reg, repo, subject.manifest.digest);
    assert.deepEqual(first?.manifests, [{ mediaType: MT.ociManifest, digest: sig.digest, size: sig.bytes.length, artifactType: SIG, annotations: { 'org.example.signer': 'alice' } }]);

    const sbom = await pushReferrer(reg, repo, subject, SBOM, { 'org.example.format': 'spdx' });
    const second = await fallbackIndex(reg, repo, subject.manifest.digest);
    assert.deepEqual(second?.manifests.map((d) => d.digest).sort(), [sig.digest, sbom.digest].sort());
    // the replaced index is not left behind as an untagged revision
    assertError(await getManifest(reg, repo, first!.digest), 404, 'MANIFEST_UNKNOWN');
    // pushing a referrer again changes nothing
    await pushManifest(reg, repo, sig.digest, sig);
    assert.equal((await fallbackIndex(reg, repo, subject.manifest.digest))?.digest, second!.digest);

    assert.equal((await reg.req('DELETE', `/v2/${repo}/manifests/${sig.digest}`)).status, 202);
    assert.deepEqual((await fallbackIndex(reg, repo, subject.manifest.digest))?.manifests.map((d) => d.digest), [sbom.digest]);
    assert.equal((await reg.req('DELETE', `/v2/${repo}/manifests/${sbom.digest}`)).status, 202);
    assert.equal(await fallbackIndex(reg, repo, subject.manifest.digest), undefined);
    assert.deepEqual((await reg.req('GET', `/v2/${repo}/tags/list`)).json().tags, ['v1']);
  });

  test('a sha512 subject gets the tag <alg>-<first 64 hex characters>', async () => {
    const repo = repoName('fallback');
    const img = await pushImage(reg, repo, 'v1');
    const sub = manifest(img.manifest.json, MT.ociManifest, { algorithm: 'sha512', indent: 1 });
    await pushManifest(reg, repo, sub.digest, sub);
    await pushBlobs(reg, repo, [emptyConfig]);
    const ref = ociManifest({ artifactType: SIG, config: emptyConfig.descriptor, layers: [emptyConfig.descriptor], subject: sub.descriptor });
    await pushManifest(reg, repo, ref.digest, ref);
    const tag = tagOf(sub.digest);
    assert.equal(tag.length, 'sha512-'.length + 64);
    const res = await getManifest(reg, repo, tag);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json().manifests.map((d: { digest: string }) => d.digest), [ref.digest]);
  });

  test('a tag of that name holding something other than an index is left alone', async () => {
    const repo = repoName('fallback');
    const subject = await pushImage(reg, repo, 'v1');
    const squatter = await pushImage(reg, repo, tagOf(subject.manifest.digest));
    await pushReferrer(reg, repo, subject, SIG, {});
    const res = await getManifest(reg, repo, tagOf(subject.manifest.digest));
    assert.equal(res.header('docker-content-digest'), squatter.manifest.digest);
    // the referrers API is unaffected
    assert.equal((await reg.req('GET', `/v2/${repo}/referrers/${subject.manifest.digest}`)).json().manifests.length, 1);
  });

  test('off by default: no tag appears', async () => {
    const repo = repoName('fallback');
    const subject = await pushImage(off, repo, 'v1');
    await pushReferrer(off, repo, subject, SIG, {});
    assertError(await getManifest(off, repo, tagOf(subject.manifest.digest)), 404, 'MANIFEST_UNKNOWN');
    assert.deepEqual((await off.req('GET', `/v2/${repo}/tags/list`)).json().tags, ['v1']);
  });

  test('storage moved to Distribution 2.8.2 (no referrers API): a client finds the referrers through the tag', async () => {
    const writer = await startRegistry({ extraYaml: FALLBACK });
    const repo = repoName('moved');
    const subject = await pushImage(writer, repo, 'v1');
    const sig = await pushReferrer(writer, repo, subject, SIG, { 'org.example.signer': 'alice' });
    const sbom = await pushReferrer(writer, repo, subject, SBOM, { 'org.example.format': 'spdx' });
    await writer.stop({ keep: true });
    const distribution = await startChild({ kind: 'distribution', root: writer.root, stateDir: writer.base });
    try {
      const api = await fetch(`${distribution.url}/v2/${repo}/referrers/${subject.manifest.digest}`);
      assert.equal(api.status, 404, 'Distribution 2.8.2 has no referrers API');
      const client = new Client(distribution.host, { credentials: null, retry: { attempts: 1, baseDelayMs: 10 } });
      const found = await client.repository(repo).referrers({ mediaType: MT.ociManifest, digest: parseDigest(subject.manifest.digest), size: subject.manifest.bytes.length });
      assert.deepEqual(found.map((d) => [d.digest.value, d.artifactType, d.annotations]).sort(), [
        [sig.digest, SIG, { 'org.example.signer': 'alice' }],
        [sbom.digest, SBOM, { 'org.example.format': 'spdx' }],
      ].sort());
      // and each referrer is there to fetch
      for (const m of [sig, sbom]) {
        const res = await fetch(`${distribution.url}/v2/${repo}/manifests/${m.digest}`, { headers: { Accept: MT.ociManifest } });
        assert.equal(res.status, 200);
        assert.equal(digestOf(Buffer.from(await res.arrayBuffer())).value, m.digest);
      }
    } finally {
      await distribution.stop();
      await writer.stop();
    }
  });
});
