// The collector's keep/delete decisions on the in-memory driver, one rule per test: what a tagged
// manifest, an index, a referrer, the grace period and a recent use keep; what --delete-untagged
// removes; a dry run and an unreadable manifest delete nothing. On a root pushed over HTTP, with
// the filesystem driver: test/gc/collect.test.ts.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectGarbage, GarbageCollectionError, type GcOptions } from '../../src/gc/collector.js';
import { manifestReferences, UnreadableManifestError } from '../../src/gc/references.js';
import { digestOf, parseDigest } from '../../src/oci/digest.js';
import { wrapDriver } from '../../src/storage/driver/base.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory.js';
import { blobDataPath, layerLinkPath, revisionLinkPath, tagIndexLinkPath } from '../../src/storage/paths.js';
import { Registry } from '../../src/storage/registry.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
type Desc = { mediaType: string; digest: string; size: number };

/**
 * The in-memory driver, with a hook the test may set to act (push, tag, rewrite) at the moment
 * the collector reads or checks a path: what another client does while a collection runs.
 */
class Hooked extends InMemoryDriver {
  hook: ((operation: 'getContent' | 'stat', path: string) => Promise<void>) | undefined;
  private async before(operation: 'getContent' | 'stat', path: string): Promise<void> {
    const hook = this.hook;
    if (hook) await hook(operation, path);
  }
  override async getContent(path: string): Promise<Buffer> {
    await this.before('getContent', path);
    return super.getContent(path);
  }
  override async stat(path: string) {
    await this.before('stat', path);
    return super.stat(path);
  }
}

async function setup({ metadataTtlMs = 0 } = {}) {
  const hooked = new Hooked();
  const driver = wrapDriver(hooked);
  const registry = new Registry(driver, { policy: { skipReferenceChecks: false, urlsAllow: [], urlsDeny: [] }, metadataTtlMs });
  const blob = async (repo: string, data: string): Promise<Desc> => {
    const d = digestOf(Buffer.from(data));
    await registry.repository(repo).uploads.putWhole(d, Readable.from([Buffer.from(data)]));
    return { mediaType: 'application/octet-stream', digest: d.value, size: data.length };
  };
  const put = async (repo: string, doc: object, tag?: string): Promise<Desc> => {
    const content = Buffer.from(JSON.stringify(doc));
    const type = (doc as { mediaType: string }).mediaType;
    const stored = await registry.repository(repo).manifests.put(content, type, tag ? { tag } : {});
    return { mediaType: type, digest: stored.digest.value, size: content.length };
  };
  const image = async (repo: string, name: string, tag?: string, extra: object = {}) => {
    const config = await blob(repo, `{"c":"${name}"}`);
    const layer = await blob(repo, `layer ${name}`);
    return { config, layer, manifest: await put(repo, { schemaVersion: 2, mediaType: OCI, config, layers: [layer], ...extra }, tag) };
  };
  const exists = (path: string) => driver.stat(path).then(() => true, () => false);
  const present = (digest: string) => exists(blobDataPath(parseDigest(digest)));
  const revision = (repo: string, digest: string) => exists(revisionLinkPath(repo, parseDigest(digest)));
  const gc = async (options: Partial<GcOptions> = {}) => {
    const lines: string[] = [];
    const result = await collectGarbage(registry.driver, { dryRun: false, deleteUntagged: false, graceMs: 0, emit: (l) => lines.push(l), ...options });
    return { result, lines };
  };
  /** Runs `act` once, the first time the collector does `operation` on a path `when` accepts. */
  const once = (operation: 'getContent' | 'stat', when: (path: string) => boolean, act: () => Promise<unknown>) => {
    hooked.hook = async (op, path) => {
      if (op !== operation || !when(path)) return;
      hooked.hook = undefined;
      await act();
    };
  };
  return { driver, registry, blob, put, image, exists, present, revision, gc, once };
}

/** Lets what was just written be older than a run started now with no grace period. */
const settle = () => sleep(5);

describe('garbage collection decisions', () => {
  it('deletes unreferenced blobs only, reporting them with their bytes, and keeps every revision without --delete-untagged', async () => {
    const s = await setup();
    const tagged = await s.image('app', 'a', 'v1');
    const untagged = await s.image('app', 'b');
    const loose = await s.blob('app', 'loose bytes');
    await settle();
    const { result, lines } = await s.gc();
    assert.deepEqual(result.blobsDeleted, [loose.digest]);
    assert.deepEqual(result.blobsEligible, [loose.digest]);
    assert.equal(result.bytesDeleted, loose.size);
    assert.deepEqual(result.manifestsDeleted, []);
    assert.deepEqual(result.manifestsEligible, []);
    assert.equal(result.marked, 6, 'two manifests with a config and a layer each');
    assert.equal(result.keptYoung, 0);
    assert.equal(result.keptInUse, 0);
    for (const d of [tagged.manifest, tagged.config, tagged.layer, untagged.manifest, untagged.config, untagged.layer]) assert.equal(await s.present(d.digest), true, d.digest);
    assert.equal(await s.present(loose.digest), false);
    assert.ok(lines.includes(`\n6 blobs marked, 1 blobs and 0 manifests eligible for deletion`), lines.join('\n'));
    assert.ok(lines.includes('app'));
    assert.ok(lines.includes(`app: marking manifest ${tagged.manifest.digest}`));
    assert.ok(lines.includes(`app: marking blob ${tagged.layer.digest}`));
    assert.ok(lines.includes(`blob eligible for deletion: ${loose.digest}`));
    assert.ok(lines.includes(`deleted 1 blobs (${loose.size} bytes) and 0 manifests; 0 kept because they were in use`));
    assert.ok(!lines.some((l) => l.includes('younger than the grace period')), 'nothing was kept for being young');
  });

  it('a dry run reports and deletes nothing; quiet keeps only the summary', async () => {
    const s = await setup();
    await s.image('app', 'a');
    const loose = await s.blob('app', 'loose');
    await settle();
    const { result, lines } = await s.gc({ dryRun: true, deleteUntagged: true, quiet: true });
    assert.deepEqual(result.blobsEligible.length, 4);
    assert.equal(result.manifestsEligible.length, 1);
    assert.deepEqual(result.blobsDeleted, []);
    assert.deepEqual(result.manifestsDeleted, []);
    assert.equal(await s.present(loose.digest), true);
    assert.deepEqual(lines, ['\n0 blobs marked, 4 blobs and 1 manifests eligible for deletion']);
    // Not quiet: what it would delete, and no line saying it deleted anything.
    const loud = await s.gc({ dryRun: true });
    assert.ok(loud.lines.includes(`blob eligible for deletion: ${loose.digest}`), loud.lines.join('\n'));
    assert.deepEqual(loud.lines.filter((l) => l.startsWith('deleted ') || l.includes('kept')), []);
  });

  it('--delete-untagged removes untagged revisions (their tag history too) and what only they reference', async () => {
    const s = await setup();
    const keep = await s.image('app', 'keep', 'v1');
    const old = await s.image('app', 'old', 'v2');
    const moved = await s.image('app', 'new', 'v2'); // v2 moves: `old` is untagged now
    const shared = await s.put('app', { schemaVersion: 2, mediaType: OCI, config: keep.config, layers: [keep.layer], annotations: { x: 'y' } });
    await settle();
    const { result, lines } = await s.gc({ deleteUntagged: true });
    assert.deepEqual(new Set(result.manifestsDeleted), new Set([`app@${old.manifest.digest}`, `app@${shared.digest}`]));
    assert.ok(lines.includes(`manifest eligible for deletion: app@${old.manifest.digest}`), lines.join('\n'));
    assert.equal(await s.revision('app', old.manifest.digest), false);
    assert.equal(await s.exists(tagIndexLinkPath('app', 'v2', parseDigest(old.manifest.digest))), false, 'tag history entry removed');
    for (const gone of [old.manifest, old.config, old.layer, shared]) assert.equal(await s.present(gone.digest), false, gone.digest);
    for (const kept of [keep.manifest, keep.config, keep.layer, moved.manifest, moved.layer]) assert.equal(await s.present(kept.digest), true, kept.digest);
    assert.equal(await s.revision('app', keep.manifest.digest), true);
  });

  it('keeps the children of a tagged index, and referrers of a kept subject, recursively', async () => {
    const s = await setup();
    const child = await s.image('app', 'child');
    const grandchild = await s.image('app', 'grand');
    const inner = await s.put('app', { schemaVersion: 2, mediaType: INDEX, manifests: [grandchild.manifest] });
    await s.put('app', { schemaVersion: 2, mediaType: INDEX, manifests: [child.manifest, inner] }, 'multi');
    const sig = await s.image('app', 'sig', undefined, { subject: child.manifest });
    const sigOfSig = await s.image('app', 'sig2', undefined, { subject: sig.manifest });
    const orphan = await s.image('app', 'orphan');
    const orphanSig = await s.image('app', 'orphan-sig', undefined, { subject: orphan.manifest });
    await settle();
    const { result } = await s.gc({ deleteUntagged: true });
    assert.deepEqual(new Set(result.manifestsDeleted), new Set([`app@${orphan.manifest.digest}`, `app@${orphanSig.manifest.digest}`]));
    for (const kept of [child, grandchild, sig, sigOfSig]) {
      for (const d of [kept.manifest, kept.config, kept.layer]) assert.equal(await s.present(d.digest), true, d.digest);
    }
    assert.equal(await s.present(inner.digest), true);
    for (const d of [orphan.layer, orphanSig.layer]) assert.equal(await s.present(d.digest), false);
  });

  it('keeps a referrer of a referrer whose digest sorts before its subject\'s (the referrers are looked at until none is added)', async () => {
    const s = await setup();
    const subject = await s.image('app', 'subject', 'v1');
    const sig = await s.put('app', { schemaVersion: 2, mediaType: OCI, config: subject.config, layers: [], subject: subject.manifest });
    // A referrer of sig whose digest comes first in the repository's (sorted) revisions.
    let n = 0;
    let doc: object;
    do doc = { schemaVersion: 2, mediaType: OCI, config: subject.config, layers: [], subject: sig, annotations: { n: String(n++) } };
    while (digestOf(Buffer.from(JSON.stringify(doc))).value > sig.digest);
    const sigOfSig = await s.put('app', doc);
    await settle();
    const { result } = await s.gc({ deleteUntagged: true });
    assert.deepEqual(result.manifestsDeleted, []);
    assert.equal(await s.revision('app', sigOfSig.digest), true);
  });

  it('an untagged revision in one repository goes while the same manifest tagged elsewhere keeps its content', async () => {
    const s = await setup();
    const a = await s.image('a', 'same', 'v1');
    const b = await s.image('b', 'same');
    assert.equal(a.manifest.digest, b.manifest.digest);
    await settle();
    const { result } = await s.gc({ deleteUntagged: true });
    assert.deepEqual(result.manifestsDeleted, [`b@${b.manifest.digest}`]);
    assert.equal(await s.revision('b', b.manifest.digest), false);
    assert.equal(await s.revision('a', a.manifest.digest), true);
    for (const d of [a.manifest, a.config, a.layer]) assert.equal(await s.present(d.digest), true);
    assert.deepEqual(result.blobsDeleted, []);
  });

  it('keeps what is younger than the grace period: blobs, blobs with a young link, young revisions', async () => {
    const s = await setup();
    const untagged = await s.image('app', 'young');
    const loose = await s.blob('app', 'young loose');
    // Data written without any link (by another process, or a push that has not linked it yet).
    const unlinked = digestOf(Buffer.from('no link yet'));
    await s.driver.putContent(blobDataPath(unlinked), Buffer.from('no link yet'));
    const { result, lines } = await s.gc({ deleteUntagged: true, graceMs: 60_000 });
    assert.deepEqual(result.manifestsEligible, [], 'a young revision is live');
    assert.deepEqual(result.manifestsDeleted, []);
    assert.deepEqual(result.blobsDeleted, []);
    assert.deepEqual(result.blobsEligible, []);
    assert.equal(result.keptInUse, 0);
    assert.equal(result.keptYoung, 2, 'the loose blob and the unlinked data; the rest is referenced by the young revision');
    assert.equal(await s.present(unlinked.value), true);
    assert.equal(await s.present(loose.digest), true);
    assert.equal(await s.present(untagged.layer.digest), true);
    assert.ok(lines.includes('2 unreferenced blobs kept: they or a link to them are younger than the grace period'));

    // A blob whose only link is young, with the blob's own data old.
    const t = await setup();
    const data = await t.blob('app', 'linked later');
    await settle();
    const young = await t.gc({ graceMs: 2 });
    assert.deepEqual(young.result.blobsDeleted, [data.digest]);
    const u = await setup();
    const d2 = await u.blob('app', 'only young link');
    await sleep(30);
    await u.registry.driver.putContent(layerLinkPath('other', parseDigest(d2.digest)), Buffer.from(d2.digest));
    const kept = await u.gc({ graceMs: 20 });
    assert.deepEqual(kept.result.blobsDeleted, []);
    assert.equal(kept.result.keptYoung, 1);
    assert.equal(await u.present(d2.digest), true);
  });

  it('keeps what the server used within the grace period (in serve), counting it as in use', async () => {
    const s = await setup();
    const loose = await s.blob('app', 'used');
    const untagged = await s.image('app', 'used-manifest');
    await sleep(30);
    s.registry.blobs.guard.retentionMs = 60_000;
    s.registry.blobs.use(digestOf(Buffer.from('used')));
    s.registry.blobs.use(parseDigest(untagged.manifest.digest));
    const { result } = await s.gc({ deleteUntagged: true, graceMs: 20, registry: s.registry });
    assert.deepEqual(result.blobsDeleted, []);
    assert.deepEqual(result.manifestsDeleted, []);
    assert.equal(result.keptInUse, 1, 'the loose blob');
    assert.equal(await s.present(loose.digest), true);
    assert.equal(await s.revision('app', untagged.manifest.digest), true);
  });

  it('stops before the next deletion once its signal is aborted', async () => {
    const s = await setup();
    await s.image('app', 'a');
    const loose = await s.blob('app', 'loose');
    await settle();
    const controller = new AbortController();
    controller.abort();
    const { result } = await s.gc({ deleteUntagged: true, signal: controller.signal });
    assert.deepEqual(result.manifestsDeleted, []);
    assert.deepEqual(result.blobsDeleted, []);
    assert.equal(await s.present(loose.digest), true);
  });

  it('keeps old blobs a manifest pushed while it marks refers to (what it scanned again before the sweep)', async () => {
    const s = await setup();
    await s.image('app', 'a', 'v1');
    const config = await s.blob('app', '{"late":true}');
    const layer = await s.blob('app', 'uploaded long ago, referenced just now');
    const loose = await s.blob('app', 'loose');
    await settle();
    const late = () => s.once('getContent', (p) => p.startsWith('/docker/registry/v2/blobs/'), () => s.put('app', { schemaVersion: 2, mediaType: OCI, config, layers: [layer], annotations: { at: String(Math.random()) } }, 'late'));
    late();
    const dry = await s.gc({ dryRun: true });
    assert.deepEqual(dry.result.blobsEligible, [loose.digest], 'a dry run reports what a run would delete');
    assert.deepEqual(dry.lines.filter((l) => l.includes(layer.digest)), [], 'the second pass marks without printing');
    late();
    const { result } = await s.gc();
    assert.deepEqual(result.blobsDeleted, [loose.digest]);
    for (const d of [config, layer]) assert.equal(await s.present(d.digest), true, d.digest);
  });

  it('keeps an untagged manifest tagged after it was marked, and what it references, counting it as in use', async () => {
    const s = await setup();
    const img = await s.image('app', 'old');
    await settle();
    s.once('stat', (p) => p === revisionLinkPath('app', parseDigest(img.manifest.digest)), () => s.registry.localRepository('app').tags.tag('late', parseDigest(img.manifest.digest)));
    const { result, lines } = await s.gc({ deleteUntagged: true });
    assert.deepEqual(result.manifestsEligible, [`app@${img.manifest.digest}`]);
    assert.deepEqual(result.manifestsDeleted, []);
    assert.deepEqual(result.blobsDeleted, []);
    assert.equal(result.keptInUse, 1);
    assert.equal(await s.revision('app', img.manifest.digest), true);
    for (const d of [img.manifest, img.config, img.layer]) assert.equal(await s.present(d.digest), true, d.digest);
    assert.deepEqual(lines.filter((l) => l.includes('marking') && l.includes(img.layer.digest)), [], 'what it keeps is marked without printing');
  });

  it('keeps an untagged manifest pushed again after it was marked', async () => {
    const s = await setup();
    const img = await s.image('app', 'old');
    await settle();
    const d = parseDigest(img.manifest.digest);
    s.once('stat', (p) => p === revisionLinkPath('app', d), () => s.driver.putContent(revisionLinkPath('app', d), Buffer.from(d.value)));
    const { result } = await s.gc({ deleteUntagged: true });
    assert.deepEqual(result.manifestsDeleted, []);
    assert.equal(result.keptInUse, 1);
    assert.equal(await s.revision('app', img.manifest.digest), true);
  });

  it('keeps a blob written again between the scan and its deletion, and one already gone counts as kept', async () => {
    const s = await setup();
    const again = await s.blob('app', 'pushed again');
    const gone = await s.blob('app', 'gone meanwhile');
    await settle();
    const paths = [again, gone].map((b) => blobDataPath(parseDigest(b.digest)));
    s.once('stat', (p) => paths.includes(p), async () => {
      await s.driver.putContent(blobDataPath(parseDigest(again.digest)), Buffer.from('pushed again'));
      await s.driver.delete(blobDataPath(parseDigest(gone.digest)));
    });
    const { result } = await s.gc();
    assert.deepEqual(new Set(result.blobsEligible), new Set([again.digest, gone.digest]));
    assert.deepEqual(result.blobsDeleted, []);
    assert.equal(result.bytesDeleted, 0);
    assert.equal(result.keptInUse, 2);
    assert.equal(await s.present(again.digest), true);
  });

  it('in serve, what it deletes is forgotten by the registry\'s caches', async () => {
    const s = await setup({ metadataTtlMs: 60_000 });
    const loose = await s.blob('app', 'cached');
    const repo = s.registry.repository('app');
    const d = parseDigest(loose.digest);
    assert.deepEqual(await repo.blobs.stat(d), { digest: d, size: loose.size });
    await settle();
    const { result } = await s.gc({ registry: s.registry });
    assert.deepEqual(result.blobsDeleted, [loose.digest]);
    assert.equal(await repo.blobs.stat(d), undefined);
  });

  it('prints each repository once, in name order, and each blob it marks once', async () => {
    const s = await setup();
    const shared = await s.image('a/b', 'one', 'v1');
    await s.put('a/b', { schemaVersion: 2, mediaType: OCI, config: shared.config, layers: [shared.layer], annotations: { n: 'two' } }, 'v2');
    // Walked as a/b/c, a/b, a/b-c, a-b: the reverse of name order but for a/b.
    for (const name of ['a-b', 'a/b-c', 'a/b/c']) await s.image(name, 'other', 'v1');
    await settle();
    const { lines } = await s.gc();
    assert.deepEqual(lines.filter((l) => /^a[-/]/.test(l) && !l.includes(':')), ['a-b', 'a/b', 'a/b-c', 'a/b/c']);
    assert.equal(lines.filter((l) => l === `a/b: marking blob ${shared.layer.digest}`).length, 1);
    assert.equal(lines.filter((l) => l === `a/b: marking manifest ${shared.manifest.digest}`).length, 1);
  });

  it('reads each manifest once a run, and passes storage failures on rather than take them for absence', async () => {
    const s = await setup();
    const img = await s.image('app', 'a', 'v1');
    const loose = await s.blob('app', 'loose');
    await settle();
    const manifestData = blobDataPath(parseDigest(img.manifest.digest));
    let reads = 0;
    s.once('getContent', (p) => p === manifestData && ++reads > 1, async () => undefined);
    await s.gc({ dryRun: true });
    assert.equal(reads, 1, 'marked in both passes, read once');
    s.once('getContent', (p) => p === manifestData, async () => {
      throw new Error('disk on fire');
    });
    await assert.rejects(s.gc(), /disk on fire/);
    s.once('stat', (p) => p === blobDataPath(parseDigest(loose.digest)), async () => {
      throw new Error('disk on fire');
    });
    await assert.rejects(s.gc(), /disk on fire/);
    assert.equal(await s.present(loose.digest), true);
    assert.equal(await s.present(img.layer.digest), true);
  });

  it('keeps an untagged manifest whose revision went meanwhile out of its count, and passes on a failure to check it', async () => {
    const s = await setup();
    const img = await s.image('app', 'old');
    await settle();
    const link = revisionLinkPath('app', parseDigest(img.manifest.digest));
    s.once('stat', (p) => p === link, () => s.driver.delete(link));
    const { result } = await s.gc({ deleteUntagged: true });
    assert.deepEqual(result.manifestsDeleted, []);
    assert.equal(result.keptInUse, 1);
    const t = await setup();
    const other = await t.image('app', 'old');
    await settle();
    t.once('stat', (p) => p === revisionLinkPath('app', parseDigest(other.manifest.digest)), async () => {
      throw new Error('disk on fire');
    });
    await assert.rejects(t.gc({ deleteUntagged: true }), /disk on fire/);
    assert.equal(await t.revision('app', other.manifest.digest), true);
  });

  it('deletes nothing when a revision\'s content cannot be read as a manifest', async () => {
    const s = await setup();
    const loose = await s.blob('app', 'loose');
    const bad = Buffer.from('{"layers": "not a list"}');
    const d = digestOf(bad);
    await s.driver.putContent(blobDataPath(d), bad);
    await s.driver.putContent(revisionLinkPath('app', d), Buffer.from(d.value));
    await settle();
    await assert.rejects(s.gc(), (err: unknown) => err instanceof GarbageCollectionError && err.message.includes(`app: cannot read manifest ${d.value}`) && err.message.includes('nothing was deleted'));
    assert.equal(await s.present(loose.digest), true);
  });

  it('skips a revision whose content is gone, and still collects the rest', async () => {
    const s = await setup();
    const img = await s.image('app', 'a', 'v1');
    const gone = digestOf(Buffer.from('gone'));
    await s.driver.putContent(revisionLinkPath('app', gone), Buffer.from(gone.value));
    const loose = await s.blob('app', 'loose');
    await settle();
    const { result } = await s.gc();
    assert.deepEqual(result.blobsDeleted, [loose.digest]);
    assert.equal(await s.present(img.layer.digest), true);
  });
});

describe('manifest references as the collector reads them', () => {
  const d = (n: string) => digestOf(Buffer.from(n)).value;
  const desc = (n: string) => ({ digest: d(n) });
  const refs = (doc: unknown) => {
    const r = manifestReferences(Buffer.from(JSON.stringify(doc)));
    return { blobs: r.blobs.map((x) => x.value), children: r.children.map((x) => x.value), subject: r.subject?.value };
  };

  it('reads config, layers, blobs, manifests, subject and schema 1 fsLayers', () => {
    assert.deepEqual(refs({ config: desc('c'), layers: [desc('l1'), desc('l2')], subject: desc('s') }), { blobs: [d('c'), d('l1'), d('l2')], children: [], subject: d('s') });
    assert.deepEqual(refs({ blobs: [desc('b')], layers: null, subject: null }), { blobs: [d('b')], children: [], subject: undefined });
    assert.deepEqual(refs({ manifests: [desc('m1'), desc('m2')] }), { blobs: [], children: [d('m1'), d('m2')], subject: undefined });
    assert.deepEqual(refs({ schemaVersion: 1, fsLayers: [{ blobSum: d('f1') }, { blobSum: d('f2') }] }), { blobs: [d('f1'), d('f2')], children: [], subject: undefined });
    assert.deepEqual(refs({}), { blobs: [], children: [], subject: undefined });
  });

  it('refuses what it cannot read rather than miss a reference', () => {
    for (const [content, message] of [
      ['not json', 'not JSON'],
      ['[]', 'not a JSON object'],
      ['null', 'not a JSON object'],
      ['1', 'not a JSON object'],
      ['"sha256:x"', 'not a JSON object'],
      ['{"layers":{}}', 'layers is not a list'],
      ['{"manifests":"x"}', 'manifests is not a list'],
      ['{"blobs":1}', 'blobs is not a list'],
      ['{"config":{}}', 'config has no valid digest'],
      ['{"config":"sha256:x"}', 'config has no valid digest'],
      [`{"layers":[{"digest":"${d('a')}"},{"digest":"md5:x"}]}`, 'layers[1] has no valid digest'],
      ['{"subject":{"digest":1}}', 'subject has no valid digest'],
      ['{"schemaVersion":1}', 'schema 1 manifest without fsLayers'],
      ['{"schemaVersion":1,"fsLayers":[{"blobSum":"x"}]}', 'schema 1 fsLayers entry without a valid blobSum'],
      ['{"schemaVersion":1,"fsLayers":[null]}', 'schema 1 fsLayers entry without a valid blobSum'],
      ['{"schemaVersion":1,"fsLayers":[{"blobSum":1}]}', 'schema 1 fsLayers entry without a valid blobSum'],
    ] as const) {
      assert.throws(() => manifestReferences(Buffer.from(content)), (err: unknown) => err instanceof UnreadableManifestError && err.message === message, content);
    }
  });
});
