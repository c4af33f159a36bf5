// The manifest store on the in-memory driver: the 4 MiB limit, the digest a manifest is pushed
// under, Content-Type against the document, references that must already be in the repository
// (blobs, index children, descriptor URLs), and what a delete removes. Over HTTP:
// test/api/manifests.test.ts.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import { createDriver } from '../../src/storage/driver/factory.js';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { RegistryError } from '../../src/oci/errors.js';
import { referrersTag } from '../../src/oci/graph.js';
import { PolicyRules } from '../../src/policy/rules.js';
import { QuotaUsage } from '../../src/policy/usage.js';
import { wrapDriver } from '../../src/storage/driver/base.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';
import { ReferrersTagKeeper } from '../../src/storage/manifests/referrers-tags.js';
import { MAX_MANIFEST_BYTES, type ManifestPolicy } from '../../src/storage/manifests/store.js';
import { blobDataPath, revisionDir, revisionLinkPath, tagCurrentLinkPath, tagIndexLinkPath } from '../../src/storage/paths.js';
import { Registry } from '../../src/storage/registry.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER = 'application/vnd.docker.distribution.manifest.v2+json';

async function setup(policy: Partial<ManifestPolicy> = {}, store?: StorageDriver) {
  const driver = store ?? (await createDriver('inmemory', {}));
  const registry = new Registry(driver, { policy: { skipReferenceChecks: false, urlsAllow: [], urlsDeny: [], ...policy }, metadataTtlMs: 0 });
  const repo = registry.repository('team/app');
  const pushBlob = async (data: string): Promise<{ mediaType: string; digest: string; size: number }> => {
    const d = digestOf(Buffer.from(data));
    await repo.uploads.putWhole(d, Readable.from([Buffer.from(data)]));
    return { mediaType: 'application/octet-stream', digest: d.value, size: data.length };
  };
  return { driver, registry, repo, pushBlob };
}

const json = (doc: unknown) => Buffer.from(JSON.stringify(doc));
function image(config: object, layers: object[] = [], extra: object = {}): Buffer {
  return json({ schemaVersion: 2, mediaType: OCI, config, layers, ...extra });
}
const missing = (n: string) => ({ mediaType: 'application/octet-stream', digest: digestOf(Buffer.from(n)).value, size: n.length });

async function refused(p: Promise<unknown>, code: string, check?: (err: RegistryError) => void): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.code, code, err.message);
    check?.(err);
    return true;
  });
}

async function exists(driver: { stat(p: string): Promise<unknown> }, path: string): Promise<boolean> {
  return driver.stat(path).then(() => true, () => false);
}

describe('manifest store', () => {
  it('stores a manifest under its digest, tags it, and reads it back with its facts', async () => {
    const { driver, repo, pushBlob } = await setup();
    const config = await pushBlob('{}');
    const layer = await pushBlob('layer');
    const m = image(config, [layer], { annotations: { a: 'b' } });
    const stored = await repo.manifests.put(m, `${OCI}; charset=utf-8`, { tag: 'v1' });
    const d = digestOf(m);
    assert.deepEqual(stored.digest, d);
    assert.equal(stored.info.size, m.length);
    assert.equal(stored.info.mediaType, OCI);
    assert.deepEqual(stored.info.blobs.map((b) => b.digest.value), [config.digest, layer.digest]);
    assert.equal(await exists(driver, revisionLinkPath('team/app', d)), true);
    assert.equal((await driver.getContent(tagCurrentLinkPath('team/app', 'v1'))).toString(), d.value);
    assert.equal(await repo.manifests.has(d), true);
    assert.deepEqual((await repo.manifests.get(d))?.content, m);
    assert.equal((await repo.manifests.stat(d))?.size, m.length);
    assert.equal((await repo.manifests.info(d))?.mediaType, OCI);
    assert.deepEqual(await repo.manifests.revisions(), [d]);
  });

  it(`accepts exactly ${MAX_MANIFEST_BYTES} bytes and refuses one more with 413 MANIFEST_INVALID`, async () => {
    const { repo, pushBlob } = await setup();
    const config = await pushBlob('{}');
    const base = image(config, [], { annotations: { pad: '' } });
    const padded = (size: number) => json({ ...JSON.parse(base.toString()), annotations: { pad: 'x'.repeat(size - base.length) } });
    assert.equal(MAX_MANIFEST_BYTES, 4 * 1024 * 1024);
    const atLimit = padded(MAX_MANIFEST_BYTES);
    assert.equal(atLimit.length, MAX_MANIFEST_BYTES);
    assert.equal((await repo.manifests.put(atLimit, OCI, {})).info.size, MAX_MANIFEST_BYTES);
    const over = padded(MAX_MANIFEST_BYTES + 1);
    await refused(repo.manifests.put(over, OCI, {}), 'MANIFEST_INVALID', (err) => {
      assert.equal(err.status, 413);
      assert.equal(err.message, `manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
    });
    assert.equal(await repo.manifests.has(digestOf(over)), false);
  });

  it('refuses a manifest whose content does not match the digest it is pushed under, hashing with that digest\'s algorithm', async () => {
    const { repo, pushBlob } = await setup();
    const m = image(await pushBlob('{}'));
    const other = digestOf(Buffer.from('other'));
    await refused(repo.manifests.put(m, OCI, { digest: other }), 'DIGEST_INVALID', (err) => {
      assert.deepEqual(err.detail, { expected: other.value, actual: digestOf(m).value });
      assert.equal(err.message, 'manifest digest does not match its content');
    });
    const d512 = digestOf(m, 'sha512');
    assert.deepEqual((await repo.manifests.put(m, OCI, { digest: d512 })).digest, d512);
    assert.equal(await repo.manifests.has(d512), true);
    assert.deepEqual((await repo.manifests.revisions()).map((d) => d.algorithm), ['sha512']);
  });

  it('checks Content-Type against the document', async () => {
    const { repo, pushBlob } = await setup();
    const m = image(await pushBlob('{}'));
    for (const type of [undefined, '', OCI, 'application/json', 'APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON', ` ${OCI} ;x=y`]) {
      assert.equal((await repo.manifests.put(m, type, {})).info.mediaType, OCI, String(type));
    }
    await refused(repo.manifests.put(m, 'text/plain', {}), 'MANIFEST_INVALID', (err) => {
      assert.match(err.message, /unsupported manifest media type/);
      assert.deepEqual(err.detail, { mediaType: 'text/plain' });
    });
    await refused(repo.manifests.put(m, DOCKER, {}), 'MANIFEST_INVALID', (err) => {
      assert.match(err.message, /does not match Content-Type/);
      assert.deepEqual(err.detail, { mediaType: OCI, contentType: DOCKER });
    });
    // Without a mediaType in the document, Content-Type decides the format.
    const bare = json({ schemaVersion: 2, config: JSON.parse(m.toString()).config, layers: [] });
    assert.equal((await repo.manifests.put(bare, OCI, {})).info.mediaType, OCI);
    await refused(repo.manifests.put(bare, DOCKER, {}), 'MANIFEST_INVALID', (err) => assert.match(err.message, new RegExp(`mediaType must be ${DOCKER}`.replaceAll('.', '\\.').replaceAll('+', '\\+'))));
  });

  it('refuses what is not a manifest, and Docker schema 1', async () => {
    const { repo } = await setup();
    for (const [content, message] of [
      ['not json', /not valid JSON/],
      ['[1]', /JSON object/],
      ['null', /JSON object/],
      ['{"schemaVersion":2,"mediaType":"application/x-unknown"}', /unsupported manifest media type/],
      ['{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}', /schema 1/],
      ['{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}', /schema 1/],
    ] as const) {
      await refused(repo.manifests.put(Buffer.from(content), undefined, {}), 'MANIFEST_INVALID', (err) => assert.match(err.message, message));
    }
    await refused(repo.manifests.put(Buffer.from('{"schemaVersion":2,"mediaType":"application/x-unknown"}'), undefined, {}), 'MANIFEST_INVALID', (err) => assert.deepEqual(err.detail, { mediaType: 'application/x-unknown' }));
    await refused(repo.manifests.put(Buffer.from('{"schemaVersion":1}'), undefined, {}), 'MANIFEST_INVALID', (err) => assert.deepEqual(err.detail, { mediaType: 'application/vnd.docker.distribution.manifest.v1+json' }));
    for (const type of ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws']) {
      await refused(repo.manifests.put(Buffer.from('{"schemaVersion":1}'), type, {}), 'MANIFEST_INVALID', (err) => assert.match(err.message, /schema 1/));
    }
  });

  it('refuses references missing from the repository, every one named in one answer', async () => {
    const { registry, repo, pushBlob } = await setup();
    const config = await pushBlob('{}');
    const m = image(config, [missing('l1'), missing('l2')]);
    await refused(repo.manifests.put(m, OCI, { tag: 'v1' }), 'MANIFEST_BLOB_UNKNOWN', (err) => {
      assert.deepEqual([err.detail, ...err.also.map((e) => e.detail)], [{ digest: missing('l1').digest }, { digest: missing('l2').digest }]);
    });
    assert.equal(await repo.manifests.has(digestOf(m)), false);
    assert.equal(await repo.tags.resolve('v1'), undefined);
    // A blob stored for another repository only is not this one's.
    const other = registry.repository('team/other');
    const layer = Buffer.from('elsewhere');
    await other.uploads.putWhole(digestOf(layer), Readable.from([layer]));
    await refused(repo.manifests.put(image(config, [{ mediaType: 'x', digest: digestOf(layer).value, size: layer.length }]), OCI, {}), 'MANIFEST_BLOB_UNKNOWN');
    // With validation.disabled nothing is checked.
    const lax = await setup({ skipReferenceChecks: true });
    assert.equal((await lax.repo.manifests.put(m, OCI, {})).digest.value, digestOf(m).value);
  });

  it('needs an index\'s children here, unless the policy says which may be absent', async () => {
    const { repo, pushBlob } = await setup();
    const child = image(await pushBlob('{}'));
    const childDesc = { mediaType: OCI, digest: digestOf(child).value, size: child.length };
    const absent = { mediaType: OCI, digest: digestOf(Buffer.from('absent')).value, size: 6 };
    const index = json({ schemaVersion: 2, mediaType: INDEX, manifests: [childDesc, absent] });
    await refused(repo.manifests.put(index, INDEX, {}), 'MANIFEST_BLOB_UNKNOWN', (err) => {
      assert.equal(err.also.length, 1, 'only the children not here');
      assert.deepEqual(err.also[0]!.detail, { digest: absent.digest });
      assert.match(err.also[0]!.message, /unknown to the repository/);
    });
    await repo.manifests.put(child, OCI, {});
    await refused(repo.manifests.put(index, INDEX, {}), 'MANIFEST_BLOB_UNKNOWN', (err) => assert.deepEqual(err.detail, { digest: absent.digest }));
    const some = await setup({ indexChildRequired: (c: { digest: Digest }) => c.digest.value !== absent.digest });
    const grand = image(await some.pushBlob('{}'));
    await some.repo.manifests.put(grand, OCI, {});
    const idx = json({ schemaVersion: 2, mediaType: INDEX, manifests: [{ ...childDesc, digest: digestOf(grand).value, size: grand.length }, absent] });
    assert.equal((await some.repo.manifests.put(idx, INDEX, {})).info.manifests.length, 2);
    const none = await setup({ indexChildRequired: () => false });
    assert.equal((await none.repo.manifests.put(index, INDEX, {})).info.manifests.length, 2);
  });

  it('accepts a layer with URLs without its blob, when every URL is allowed', async () => {
    const withUrls = (urls: string[]) => ({ ...missing('foreign'), urls });
    const open = await setup();
    const config = await open.pushBlob('{}');
    for (const urls of [['https://example.com/a'], ['http://example.com/a', 'https://b.example/c']]) {
      assert.ok(await open.repo.manifests.put(image(config, [withUrls(urls)]), OCI, {}), urls.join());
    }
    for (const url of ['ftp://example.com/a', 'not a url', 'https://example.com/a#frag', 'file:///etc/passwd']) {
      await refused(open.repo.manifests.put(image(config, [withUrls(['https://example.com/ok', url])]), OCI, {}), 'MANIFEST_INVALID', (err) => {
        assert.deepEqual(err.detail, { digest: missing('foreign').digest, url });
        assert.equal(err.message, 'descriptor URL not allowed by validation.manifests.urls');
      });
    }
    // A URL is allowed when any allow pattern matches it.
    const either = await setup({ urlsAllow: [/^https:\/\/one\.example\//, /^https:\/\/two\.example\//] });
    const c1 = await either.pushBlob('{}');
    assert.ok(await either.repo.manifests.put(image(c1, [withUrls(['https://two.example/x'])]), OCI, {}));
    const ruled = await setup({ urlsAllow: [/^https:\/\/allowed\.example\//], urlsDeny: [/secret/] });
    const c2 = await ruled.pushBlob('{}');
    assert.ok(await ruled.repo.manifests.put(image(c2, [withUrls(['https://allowed.example/x'])]), OCI, {}));
    for (const url of ['https://other.example/x', 'https://allowed.example/secret']) {
      await refused(ruled.repo.manifests.put(image(c2, [withUrls([url])]), OCI, {}), 'MANIFEST_INVALID');
    }
    const denyOnly = await setup({ urlsDeny: [/secret/] });
    const c3 = await denyOnly.pushBlob('{}');
    assert.ok(await denyOnly.repo.manifests.put(image(c3, [withUrls(['https://any.example/x'])]), OCI, {}));
    await refused(denyOnly.repo.manifests.put(image(c3, [withUrls(['https://any.example/secret'])]), OCI, {}), 'MANIFEST_INVALID');
    // An empty URL list is no URL list: the blob must be here.
    await refused(open.repo.manifests.put(image(config, [withUrls([])]), OCI, {}), 'MANIFEST_BLOB_UNKNOWN');
  });

  it('deletes a revision with every tag pointing at it, and nothing else', async () => {
    const { driver, repo, pushBlob } = await setup();
    const config = await pushBlob('{}');
    const a = image(config, [], { annotations: { n: 'a' } });
    const b = image(config, [], { annotations: { n: 'b' } });
    await repo.manifests.put(a, OCI, { tag: 'one' });
    await repo.manifests.put(a, OCI, { tag: 'two' });
    await repo.manifests.put(b, OCI, { tag: 'other' });
    assert.equal(await repo.manifests.delete(digestOf(a)), true);
    assert.equal(await repo.manifests.has(digestOf(a)), false);
    assert.equal(await repo.manifests.get(digestOf(a)), undefined);
    assert.equal(await repo.manifests.stat(digestOf(a)), undefined);
    assert.equal(await repo.tags.resolve('one'), undefined);
    assert.equal(await repo.tags.resolve('two'), undefined);
    assert.deepEqual(await repo.tags.resolve('other'), digestOf(b));
    assert.equal(await exists(driver, tagIndexLinkPath('team/app', 'one', digestOf(a))), false);
    assert.equal(await exists(driver, blobDataPath(digestOf(a))), true, 'content stays for the collector');
    assert.deepEqual(await repo.manifests.revisions(), [digestOf(b)]);
    assert.equal(await repo.manifests.delete(digestOf(a)), false, 'gone already');
  });

  it('serves content another registry wrote that it cannot classify, as it is', async () => {
    const { driver, repo } = await setup();
    for (const [content, type] of [['{"mediaType":"application/x-odd"}', 'application/x-odd'], ['{"schemaVersion":2,"manifests":[1]}', INDEX], ['not json', 'application/octet-stream'], ['[]', 'application/octet-stream']] as const) {
      const buf = Buffer.from(content);
      const d = digestOf(buf);
      await driver.putContent(blobDataPath(d), buf);
      await driver.putContent(revisionLinkPath('team/app', d), Buffer.from(d.value));
      const got = await repo.manifests.get(d);
      assert.deepEqual(got?.content, buf);
      assert.deepEqual(got?.info, { mediaType: type, blobs: [], manifests: [], size: buf.length }, content);
    }
  });

  it('refuses to move or delete an immutable tag before anything is written (berth.immutabletags)', async () => {
    const { driver, registry, pushBlob } = await setup();
    registry.rules = new PolicyRules([{ repositories: ['team/app'], tags: ['^v'] }], undefined);
    const repo = registry.repository('team/app');
    const config = await pushBlob('{}');
    const one = image(config, [], { annotations: { n: '1' } });
    const two = image(config, [], { annotations: { n: '2' } });
    await repo.manifests.put(one, OCI, { tag: 'v1' });
    await repo.manifests.put(one, OCI, { tag: 'v1' }); // the same manifest again: nothing moves
    await repo.manifests.put(one, OCI, { tag: 'latest' });
    await refused(repo.manifests.put(two, OCI, { tag: 'v1' }), 'DENIED', (err) => assert.match(err.message, /tag v1 of team\/app is immutable/));
    assert.equal(await exists(driver, revisionLinkPath('team/app', digestOf(two))), false, 'no revision written');
    assert.deepEqual(await repo.tags.resolve('v1'), digestOf(one));
    await refused(repo.manifests.delete(digestOf(one)), 'DENIED', (err) => {
      assert.match(err.message, new RegExp(`tag v1 of team/app is immutable \\(.*\\): its manifest ${digestOf(one).value} cannot be deleted`));
    });
    assert.deepEqual(await repo.tags.resolve('latest'), digestOf(one), 'a mutable tag of it is not removed either');
    assert.equal(await repo.manifests.has(digestOf(one)), true);
    // Other repositories and tags are not covered.
    assert.ok(await repo.manifests.put(two, OCI, { tag: 'latest' }));
    const other = registry.repository('team/other');
    await other.uploads.putWhole(digestOf(Buffer.from('{}')), Readable.from([Buffer.from('{}')]));
    await other.manifests.put(one, OCI, { tag: 'v1' });
    assert.ok(await other.manifests.put(two, OCI, { tag: 'v1' }));
  });

  it('counts a manifest against its repository\'s quota while it is stored, and no longer once deleted or refused (berth.quotas)', async () => {
    const { registry, pushBlob } = await setup({ skipReferenceChecks: true });
    const config = await pushBlob('{}');
    const manifests = ['a', 'b', 'c'].map((n) => image(config, [], { annotations: { n } }));
    const size = manifests[0]!.length;
    const usage = new QuotaUsage([{ repositories: ['team/app'], maxBytes: 2 * size, each: true }], registry.driver);
    registry.changes.follow((changes) => usage.follow(changes));
    await usage.load();
    registry.rules = new PolicyRules([], usage);
    const repo = registry.repository('team/app');
    const [a, b, c] = manifests as [Buffer, Buffer, Buffer];
    await repo.manifests.put(a, OCI, {});
    // The blob and one manifest fill it.
    await refused(repo.manifests.put(b, OCI, {}), 'DENIED', (err) => assert.match(err.message, /quota/));
    await repo.manifests.put(a, OCI, { tag: 'again' }); // stored already: adds nothing
    assert.equal(await repo.manifests.delete(digestOf(a)), true);
    await repo.manifests.put(b, OCI, {});
    assert.equal(await repo.manifests.has(digestOf(b)), true);
    assert.equal(await repo.manifests.delete(digestOf(b)), true);
    await repo.manifests.put(c, OCI, {});
    assert.equal(await repo.manifests.has(digestOf(c)), true);
  });

  it('keeps the referrers tag of a subject up to date as referrers come and go (berth.referrers.fallbacktags)', async () => {
    const { repo, pushBlob } = await setup({ referrersTags: new ReferrersTagKeeper() });
    const config = await pushBlob('{}');
    const subject = image(config);
    await repo.manifests.put(subject, OCI, { tag: 'v1' });
    const subjectDesc = { mediaType: OCI, digest: digestOf(subject).value, size: subject.length };
    const sig = image(config, [], { subject: subjectDesc, artifactType: 'application/x-sig' });
    await repo.manifests.put(sig, OCI, {});
    const tag = referrersTag(digestOf(subject));
    const index = await repo.tags.resolve(tag);
    assert.ok(index, 'the referrers tag is written');
    const listed = JSON.parse((await repo.manifests.get(index))!.content.toString()) as { mediaType: string; manifests: Array<{ digest: string }> };
    assert.equal(listed.mediaType, INDEX);
    assert.deepEqual(listed.manifests.map((m) => m.digest), [digestOf(sig).value]);
    assert.equal(await repo.manifests.delete(digestOf(sig)), true);
    assert.equal(await repo.tags.resolve(tag), undefined, 'gone with the last referrer');
    // Without the option no such tag is kept.
    const off = await setup();
    await off.pushBlob('{}');
    await off.repo.manifests.put(subject, OCI, {});
    await off.repo.manifests.put(sig, OCI, {});
    assert.equal(await off.repo.tags.resolve(tag), undefined);
  });

  it('answers HEAD from what it parsed at push, reading the content once for a manifest another process pushed', async () => {
    const reads: string[] = [];
    const driver = wrapDriver(new InMemoryDriver(), { onOperation: (e) => { if (e.operation === 'getContent' && e.path.includes('/blobs/')) reads.push(e.path); } });
    const { repo, pushBlob } = await setup({}, driver);
    const m = image(await pushBlob('{}'));
    const d = digestOf(m);
    await repo.manifests.put(m, OCI, {});
    const head = await repo.manifests.stat(d);
    assert.deepEqual([head?.mediaType, head?.size, head?.blobs.length], [OCI, m.length, 1]);
    assert.equal((await repo.manifests.info(d))?.size, m.length);
    assert.deepEqual(reads, [], 'nothing read back');
    const elsewhere = await setup({}, driver);
    assert.equal((await elsewhere.repo.manifests.stat(d))?.size, m.length);
    assert.equal((await elsewhere.repo.manifests.stat(d))?.size, m.length);
    assert.equal((await elsewhere.repo.manifests.info(d))?.mediaType, OCI);
    assert.deepEqual(reads, [blobDataPath(d)], 'read once, then known');
    // A delete reads the content only to update a referrers tag, which is not kept here.
    const third = await setup({}, driver);
    assert.equal(await third.repo.manifests.delete(d), true);
    assert.deepEqual(reads, [blobDataPath(d)]);
    assert.equal(await third.repo.manifests.info(digestOf(Buffer.from('no such content'))), undefined);
  });

  it('waits for a deletion of the manifest in progress before answering whether it is there', async () => {
    const { driver, registry, repo, pushBlob } = await setup();
    const m = image(await pushBlob('{}'));
    const d = digestOf(m);
    await repo.manifests.put(m, OCI, {});
    let removed!: () => void;
    const gate = new Promise<void>((resolve) => (removed = resolve));
    // Garbage collection in this process removes the revision (gc/collector.ts, deleteManifest).
    const deletion = registry.blobs.guard.deleting(d.value, 0, async () => {
      await gate;
      await driver.delete(revisionDir('team/app', d));
      return true;
    });
    const answer = repo.manifests.has(d);
    await setImmediate(); // the in-memory driver would have answered by now
    removed();
    assert.equal(await answer, false);
    assert.equal(await deletion, true);
  });

  it('knows a manifest it stored at once, with metadata cached (berth.metadatattl)', async () => {
    const driver = await createDriver('inmemory', {});
    const registry = new Registry(driver, { policy: { skipReferenceChecks: false, urlsAllow: [], urlsDeny: [] }, metadataTtlMs: 60_000 });
    const repo = registry.repository('team/app');
    await repo.uploads.putWhole(digestOf(Buffer.from('{}')), Readable.from([Buffer.from('{}')]));
    const m = image({ mediaType: 'application/octet-stream', digest: digestOf(Buffer.from('{}')).value, size: 2 });
    assert.equal(await repo.manifests.has(digestOf(m)), false, 'absent first (and cached so)');
    await repo.manifests.put(m, OCI, { tag: 'v1' });
    assert.equal(await repo.manifests.has(digestOf(m)), true);
    assert.deepEqual((await repo.manifests.get(digestOf(m)))?.content, m);
  });

  it('ignores a revision link that names another digest', async () => {
    const { driver, repo, pushBlob } = await setup();
    const m = image(await pushBlob('{}'));
    const d = digestOf(m);
    await repo.manifests.put(m, OCI, {});
    const fake = digestOf(Buffer.from('fake'));
    await driver.putContent(revisionLinkPath('team/app', fake), Buffer.from(d.value));
    assert.equal(await repo.manifests.has(fake), false);
    assert.deepEqual(await repo.manifests.revisions(), [d]);
  });
});
