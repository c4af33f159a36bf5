// copy() over the manifest graph between real registries (Berth, Distribution 2.8.2), within one
// registry (mounts), to and from OCI layouts, with auth on both sides; hooks and progress; a node
// shared by two branches copied once; skip what the destination has; one platform of an index;
// bounded parallelism; AbortSignal.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { copy } from '../../src/client/copy/copy.js';
import { MemoryStore } from '../../src/client/memory.js';
import { OciLayout } from '../../src/client/layout/oci-layout.js';
import { Registry } from '../../src/client/remote/registry.js';
import type { Descriptor } from '../../src/oci/descriptor.js';
import { digestOf } from '../../src/oci/digest.js';
import { writeHtpasswd } from '../auth/helpers.js';
import { artifact, image, index, pushAll, startTestRegistry, uniqueRepo, type Image, type TestRegistry } from './fixtures.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-client-copy-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const noAuth = { credentials: null } as const;

/** Every digest reachable from `ref` in a registry, read back through the client. */
async function closure(reg: string, repo: string, ref: string): Promise<string[]> {
  const r = new Registry(reg, noAuth).repository(repo);
  const out: string[] = [];
  const walk = async (reference: string) => {
    const { descriptor, content } = await r.fetchManifest(reference);
    out.push(descriptor.digest.value);
    const doc = JSON.parse(content.toString()) as { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
    for (const m of doc.manifests ?? []) await walk(m.digest);
    for (const b of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
      assert.ok((await r.statBlob(b.digest)) !== undefined, `blob ${b.digest} present`);
      out.push(b.digest);
    }
  };
  await walk(ref);
  return out.sort();
}

function multiArch(): { idx: ReturnType<typeof index>; amd: Image; arm: Image; shared: Descriptor } {
  const amd = image({ architecture: 'amd64', layerSizes: [200_000, 3000] });
  const arm = image({ architecture: 'arm64', layerSizes: [150_000] });
  // One layer in both images: a node reached through two branches.
  const sharedLayer = amd.layers[1]!;
  const armDoc = JSON.parse(arm.manifest.data.toString()) as { layers: unknown[] };
  armDoc.layers.push({ mediaType: sharedLayer.desc.mediaType, digest: sharedLayer.desc.digest.value, size: sharedLayer.desc.size });
  const armManifest = Buffer.from(JSON.stringify(armDoc));
  const arm2: Image = { ...arm, layers: [...arm.layers, sharedLayer], manifest: { desc: { ...arm.manifest.desc, digest: digestOf(armManifest), size: armManifest.length }, data: armManifest } };
  arm2.all = [arm2.config, ...arm2.layers, arm2.manifest];
  const idx = index([{ image: amd, platform: { os: 'linux', architecture: 'amd64' } }, { image: arm2, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }]);
  return { idx, amd, arm: arm2, shared: sharedLayer.desc };
}

describe('copy between registries', () => {
  let berth: TestRegistry;
  let dist: TestRegistry;
  before(async () => {
    [berth, dist] = await Promise.all([startTestRegistry('berth'), startTestRegistry('distribution')]);
  });
  after(async () => {
    await berth?.stop();
    await dist?.stop();
  });

  it('copies a whole index leaves first, each node once, with progress; a second copy skips it all', async () => {
    const { idx, amd, arm, shared } = multiArch();
    const srcRepo = new Registry(berth.host, noAuth).repository(uniqueRepo('copy-src'));
    await pushAll(srcRepo, [...amd.all, ...arm.all.filter((c) => c.desc.digest.value !== shared.digest.value)]);
    await srcRepo.pushReference(idx.desc, idx.data, 'multi');
    const dstName = uniqueRepo('copy-dst');

    const copied: string[] = [];
    const order: string[] = [];
    const perBlob = new Map<string, number>();
    let lastTotal = 0;
    const result = await copy(`${berth.host}/${srcRepo.repository}:multi`, `${dist.host}/${dstName}:v1`, {
      client: noAuth,
      onCopied: (d) => { copied.push(d.digest.value); order.push(d.digest.value); },
      onProgress: (p) => { perBlob.set(p.descriptor.digest.value, p.bytes); assert.ok(p.totalBytes > lastTotal); lastTotal = p.totalBytes; },
    });
    assert.equal(result.descriptor.digest.value, idx.desc.digest.value);
    assert.equal(result.tag, 'v1');
    const expected = await closure(berth.host, srcRepo.repository, 'multi');
    assert.deepEqual(await closure(dist.host, dstName, 'v1'), expected, 'the destination holds the same digests');
    assert.deepEqual([...copied].sort(), [...new Set(expected)].sort(), 'every node copied exactly once');
    assert.equal(copied.filter((d) => d === shared.digest.value).length, 1, 'the shared layer once');
    assert.equal(order.at(-1), idx.desc.digest.value, 'the index last');
    assert.ok(order.indexOf(amd.manifest.desc.digest.value) > order.indexOf(amd.layers[0]!.desc.digest.value), 'a manifest after its layers');
    for (const c of [...amd.all, ...arm.all]) assert.equal(perBlob.get(c.desc.digest.value), c.desc.size, `progress for ${c.desc.digest.value}`);
    const total = [...new Set([...amd.all, ...arm.all, idx].map((c) => `${c.desc.digest.value} ${c.desc.size}`))].reduce((n, s) => n + Number(s.split(' ')[1]), 0);
    assert.equal(result.bytes, total);
    assert.equal(lastTotal, total);

    const skipped: string[] = [];
    const again = await copy(`${berth.host}/${srcRepo.repository}:multi`, `${dist.host}/${dstName}:v2`, { client: noAuth, onSkipped: (d) => skipped.push(d.digest.value) });
    assert.deepEqual(skipped, [idx.desc.digest.value], 'the root is there: nothing under it is looked at');
    assert.equal(again.bytes, 0);
    assert.equal((await new Registry(dist.host, noAuth).repository(dstName).resolve('v2')).digest.value, idx.desc.digest.value, 'the new tag points at it');
  });

  it('copies one platform of an index; the destination tag names that image', async () => {
    const { idx, amd, arm } = multiArch();
    const src = new MemoryStore();
    await pushAll(src, [...amd.all, ...arm.all, idx]);
    await src.tag(idx.desc, 'multi');
    const dstName = uniqueRepo('copy-arm');
    const result = await copy({ target: src, reference: 'multi' }, `${berth.host}/${dstName}:arm`, { client: noAuth, platform: 'linux/arm64' });
    assert.equal(result.descriptor.digest.value, arm.manifest.desc.digest.value);
    const dst = new Registry(berth.host, noAuth).repository(dstName);
    assert.equal((await dst.resolve('arm')).digest.value, arm.manifest.desc.digest.value);
    assert.equal(await dst.statBlob(amd.layers[0]!.desc.digest), undefined, 'nothing of the amd64 image');
    await assert.rejects(copy({ target: src, reference: 'multi' }, `${berth.host}/${dstName}:s390x`, { client: noAuth, platform: 'linux/s390x' }), /no image for linux\/s390x .*has linux\/amd64, linux\/arm64\/v8/);
  });

  it('mounts blobs within one registry instead of copying their bytes', async () => {
    const img = image({ layerSizes: [100_000, 50_000] });
    const src = new Registry(berth.host, noAuth).repository(uniqueRepo('mount-src'));
    await pushAll(src, img.all);
    await src.tag(img.manifest.desc, 'v1');
    const mounted: string[] = [];
    const result = await copy(`${berth.host}/${src.repository}:v1`, `${berth.host}/${uniqueRepo('mount-dst')}:v1`, { client: noAuth, onMounted: (d, from) => { assert.equal(from, src.repository); mounted.push(d.digest.value); } });
    assert.deepEqual(mounted.sort(), [img.config, ...img.layers].map((c) => c.desc.digest.value).sort());
    assert.equal(result.mounted, 3);
    assert.equal(result.bytes, img.manifest.desc.size, 'only the manifest moved');
  });

  it('runs at most `concurrency` transfers at once, and in parallel', async () => {
    const img = image({ layerSizes: Array.from({ length: 8 }, () => 10_000) });
    const src = new MemoryStore();
    await pushAll(src, img.all);
    await src.tag(img.manifest.desc, 'v1');
    const dst = new MemoryStore();
    let active = 0;
    let peak = 0;
    const slow = Object.assign(Object.create(dst) as MemoryStore, {
      async push(desc: Descriptor, content: Readable | Buffer) {
        active++;
        peak = Math.max(peak, active);
        try {
          await new Promise((r) => setTimeout(r, 30));
          await dst.push(desc, content);
        } finally {
          active--;
        }
      },
    });
    await copy({ target: src, reference: 'v1' }, { target: slow }, { concurrency: 3 });
    assert.equal(peak, 3);
    assert.equal((await dst.resolve('v1')).digest.value, img.manifest.desc.digest.value);
  });

  it('stops when the signal aborts, with its reason', async () => {
    const img = image({ layerSizes: [2_000_000, 2_000_000, 2_000_000] });
    const src = new MemoryStore();
    await pushAll(src, img.all);
    await src.tag(img.manifest.desc, 'v1');
    const ac = new AbortController();
    const reason = new Error('stopped by the test');
    await assert.rejects(
      copy({ target: src, reference: 'v1' }, `${berth.host}/${uniqueRepo('abort')}:v1`, { client: noAuth, signal: ac.signal, onProgress: () => ac.abort(reason) }),
      (err: unknown) => err === reason,
    );
  });

  it('copies with Bearer auth on one side and Basic on the other', async () => {
    const htpasswd = path.join(tmp, 'htpasswd');
    writeHtpasswd(htpasswd, { alice: 'alice-pw' });
    const tokenAuth = ['auth:', '  token:', '    autoredirect: true', '    service: copy', '    issuer: berth', 'berth:', '  auth:', '    tokenissuer:', `      htpasswd: ${htpasswd}`].join('\n');
    const basicAuth = ['auth:', '  htpasswd:', '    realm: copy', `    path: ${htpasswd}`].join('\n');
    const [a, b] = await Promise.all([startTestRegistry('berth', tokenAuth), startTestRegistry('distribution', basicAuth)]);
    try {
      const credentials = { username: 'alice', password: 'alice-pw' };
      const img = image();
      const src = new Registry(a.host, { credentials }).repository(uniqueRepo('authcopy'));
      await pushAll(src, img.all);
      await src.tag(img.manifest.desc, 'v1');
      const sig = artifact(img.manifest.desc, 'application/vnd.example.sig');
      await pushAll(src, sig.all);
      await copy(`${a.host}/${src.repository}:v1`, `${b.host}/${src.repository}:v1`, { client: { credentials } });
      const dst = new Registry(b.host, { credentials }).repository(src.repository);
      assert.deepEqual(await dst.resolve('v1'), img.manifest.desc);
      // A referrer copied by digest: Distribution has no referrers API, so the fallback tag is written.
      await copy(`${a.host}/${src.repository}@${sig.manifest.desc.digest.value}`, `${b.host}/${src.repository}`, { client: { credentials } });
      assert.deepEqual((await dst.referrers(img.manifest.desc)).map((d) => d.digest.value), [sig.manifest.desc.digest.value]);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe('copy to and from OCI layouts', () => {
  let berth: TestRegistry;
  before(async () => { berth = await startTestRegistry('berth'); });
  after(() => berth?.stop());

  it('registry → layout → registry keeps every digest; the layout is written whole', async () => {
    const { idx, amd, arm, shared } = multiArch();
    const src = new Registry(berth.host, noAuth).repository(uniqueRepo('lay'));
    await pushAll(src, [...amd.all, ...arm.all.filter((c) => c.desc.digest.value !== shared.digest.value)]);
    await src.pushReference(idx.desc, idx.data, 'multi');
    const dir = path.join(tmp, 'layout-a');
    await copy(`${berth.host}/${src.repository}:multi`, `oci:${dir}:multi`, { client: noAuth });
    const layout = new OciLayout(dir);
    assert.deepEqual(await layout.resolve('multi'), idx.desc);
    for (const c of [...amd.all, ...arm.all]) assert.equal(await layout.exists(c.desc), true);
    const back = uniqueRepo('lay-back');
    await copy(`oci:${dir}:multi`, `${berth.host}/${back}:again`, { client: noAuth });
    assert.deepEqual(await closure(berth.host, back, 'again'), await closure(berth.host, src.repository, 'multi'));
    // By digest into a layout: recorded untagged in index.json.
    await copy(`${berth.host}/${src.repository}@${amd.manifest.desc.digest.value}`, `oci:${path.join(tmp, 'layout-b')}`, { client: noAuth });
    const entries = await new OciLayout(path.join(tmp, 'layout-b')).entries();
    assert.deepEqual(entries.map((e) => e.digest.value), [amd.manifest.desc.digest.value]);
  });
});
