// The remote repository API against real registries: Berth (in-process) and Distribution 2.8.2
// (Debian's docker-registry, a child process). Blobs: HEAD, verified GET, monolithic and chunked
// uploads (known and unknown length), mount and its fallback, delete. Manifests of every media
// type by tag and digest, HEAD; tags and catalog across Link pages; referrers through the API
// (Berth) and the fallback tag schema (Distribution); typed errors naming registry and request.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Registry } from '../../src/client/remote/registry.js';
import type { Repository } from '../../src/client/remote/repository.js';
import { DigestMismatchError, NotFoundError, RequestError } from '../../src/client/errors.js';
import { readAll } from '../../src/client/content/verify.js';
import { digestOf } from '../../src/oci/digest.js';
import { referrersTag } from '../../src/oci/graph.js';
import { artifact, content, image, index, pushAll, startTestRegistry, uniqueRepo, type TestRegistry } from './fixtures.js';

async function list<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A stream with no known length, in uneven pieces. */
function trickle(data: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let off = 0; off < data.length;) {
    const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * 70_000));
    pieces.push(data.subarray(off, off + n));
    off += n;
  }
  return Readable.from(pieces);
}

for (const kind of ['berth', 'distribution'] as const) {
  describe(`remote repository against ${kind}`, () => {
    let reg: TestRegistry;
    let registry: Registry;
    let repo: Repository;

    before(async () => {
      reg = await startTestRegistry(kind);
      registry = new Registry(reg.host, { credentials: null, retry: { attempts: 2, baseDelayMs: 10 } });
      repo = registry.repository(uniqueRepo('client'));
    });
    after(() => reg?.stop());

    it('talks plain http to a loopback host and answers /v2/', async () => {
      assert.equal(registry.base, `http://${reg.host}`);
      await registry.ping();
    });

    it('uploads a blob in one PUT, sees it with HEAD, reads it back verified, deletes it', async () => {
      const c = content(randomBytes(300_000));
      assert.equal(await repo.statBlob(c.desc.digest), undefined);
      await repo.uploadBlob(Readable.from([c.data]), { digest: c.desc.digest, size: c.desc.size });
      assert.equal(await repo.statBlob(c.desc.digest), c.desc.size);
      assert.equal(await repo.exists(c.desc), true);
      const back = await readAll(await repo.fetch(c.desc), 1 << 20);
      assert.ok(back.equals(c.data));
      await repo.deleteBlob(c.desc.digest);
      assert.equal(await repo.statBlob(c.desc.digest), undefined);
    });

    it('uploads in chunks from a stream of unknown length, computing the digest', async () => {
      const data = randomBytes(2_500_000);
      const got = await repo.uploadBlob(trickle(data), { chunkSize: 1 << 20 });
      assert.equal(got.digest.value, digestOf(data).value);
      assert.equal(got.size, data.length);
      const back = await readAll(await repo.fetchBlob({ mediaType: 'application/octet-stream', digest: got.digest, size: got.size }), 4 << 20);
      assert.ok(back.equals(data));
    });

    it('refuses content that does not match its digest, on upload and on download', async () => {
      const c = content(randomBytes(1000));
      const wrong = content(randomBytes(1000));
      await assert.rejects(repo.uploadBlob(trickle(wrong.data), { digest: c.desc.digest, chunkSize: 512 }), DigestMismatchError);
      await repo.uploadBlob(c.data, { digest: c.desc.digest, size: c.desc.size });
      // Ask for it under a descriptor with another digest: the stream must fail, not pass bad bytes as good.
      const lying = { ...c.desc, digest: wrong.desc.digest };
      await assert.rejects(repo.fetchBlob(lying).then((s) => readAll(s, 1 << 20)), (err: unknown) => err instanceof NotFoundError || err instanceof DigestMismatchError);
      await assert.rejects(repo.fetchBlob({ ...c.desc, size: 999 }).then((s) => readAll(s, 1 << 20)), DigestMismatchError);
    });

    it('mounts a blob from another repository, and pushes it when the registry declines the mount', async () => {
      const other = registry.repository(uniqueRepo('client-src'));
      const c = content(randomBytes(50_000));
      await other.uploadBlob(c.data, { digest: c.desc.digest, size: c.desc.size });
      let opened = 0;
      const getContent = async () => { opened++; return other.fetch(c.desc); };
      assert.equal(await repo.mount(c.desc, other.repository, getContent), 'mounted');
      assert.equal(opened, 0);
      assert.equal(await repo.statBlob(c.desc.digest), c.desc.size);
      // The source repository does not hold this one: the registry opens an upload instead.
      const d = content(randomBytes(20_000));
      const third = registry.repository(uniqueRepo('client-dst'));
      assert.equal(await third.mount(d.desc, uniqueRepo('nowhere'), async () => Readable.from([d.data])), 'pushed');
      assert.equal(await third.statBlob(d.desc.digest), d.desc.size);
    });

    it('pushes and fetches manifests of every media type by tag and by digest; HEAD gives the descriptor', async () => {
      const oci = image();
      const docker = image({ docker: true });
      const arm = image({ architecture: 'arm64' });
      await pushAll(repo, [...oci.all, ...docker.all, ...arm.all]);
      const idx = index([{ image: oci, platform: { os: 'linux', architecture: 'amd64' } }, { image: arm, platform: { os: 'linux', architecture: 'arm64' } }]);
      const list = index([{ image: docker, platform: { os: 'linux', architecture: 'amd64' } }], true);
      for (const [tag, c] of [['oci', oci.manifest], ['docker', docker.manifest], ['index', idx], ['list', list]] as const) {
        await repo.pushReference(c.desc, c.data, tag);
        const head = await repo.resolve(tag);
        assert.deepEqual(head, c.desc, `HEAD ${tag}`);
        const byTag = await repo.fetchManifest(tag);
        assert.ok(byTag.content.equals(c.data), `GET ${tag}`);
        assert.equal(byTag.descriptor.mediaType, c.desc.mediaType);
        const byDigest = await repo.fetchManifest(c.desc.digest.value);
        assert.equal(byDigest.descriptor.digest.value, c.desc.digest.value);
      }
      const got = await repo.fetchManifest('index');
      assert.equal(got.descriptor.mediaType, 'application/vnd.oci.image.index.v1+json');
      assert.equal(await repo.headManifest('missing'), undefined);
    });

    it('lists tags and the catalog across Link pages', async () => {
      const r = registry.repository(uniqueRepo('client-tags'));
      const img = image();
      await pushAll(r, img.all);
      const tags = Array.from({ length: 7 }, (_, i) => `t${i}`);
      for (const t of tags) await r.tag(img.manifest.desc, t);
      assert.deepEqual((await list(r.tags({ pageSize: 2 }))).sort(), tags);
      const names = await list(registry.catalog({ pageSize: 1 }));
      assert.ok(names.includes(r.repository), `catalog has ${r.repository}`);
      assert.equal(new Set(names).size, names.length, 'no repository twice');
    });

    it('lists referrers (the API on Berth, the fallback tag schema on Distribution) and filters by artifact type', async () => {
      const r = registry.repository(uniqueRepo('client-refs'));
      const subject = image();
      await pushAll(r, subject.all);
      const sig = artifact(subject.manifest.desc, 'application/vnd.example.signature');
      const sbom = artifact(subject.manifest.desc, 'application/vnd.example.sbom');
      await pushAll(r, sig.all);
      await pushAll(r, sbom.all);
      const all = await r.referrers(subject.manifest.desc);
      assert.deepEqual(all.map((d) => d.digest.value).sort(), [sig.manifest.desc.digest.value, sbom.manifest.desc.digest.value].sort());
      const sigs = await r.referrers(subject.manifest.desc, { artifactType: 'application/vnd.example.signature' });
      assert.deepEqual(sigs.map((d) => d.digest.value), [sig.manifest.desc.digest.value]);
      assert.equal(sigs[0]!.annotations?.['org.example.kind'], 'application/vnd.example.signature');
      const fallback = await r.headManifest(referrersTag(subject.manifest.desc.digest));
      if (kind === 'berth') assert.equal(fallback, undefined, 'a registry with the API gets no fallback tag');
      else assert.equal(fallback?.mediaType, 'application/vnd.oci.image.index.v1+json', 'Distribution 2.8.2 has no API: the fallback index is kept');
    });

    it('deletes a manifest; then a fetch fails with NotFoundError naming the registry, the request and MANIFEST_UNKNOWN', async () => {
      const img = image();
      await pushAll(repo, img.all);
      await repo.deleteManifest(img.manifest.desc);
      await assert.rejects(repo.fetchManifest(img.manifest.desc.digest.value), (err: unknown) => {
        assert.ok(err instanceof NotFoundError);
        assert.equal(err.code, 'MANIFEST_UNKNOWN');
        assert.equal(err.registry, reg.host);
        assert.equal(err.request, `GET http://${reg.host}/v2/${repo.repository}/manifests/${img.manifest.desc.digest.value}`);
        assert.match(err.message, new RegExp(`${reg.host}: GET .* 404 MANIFEST_UNKNOWN`));
        return true;
      });
    });

    it('a refused manifest is a RequestError with the spec code', async () => {
      const bad = content(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 2 }, layers: 'none' }), 'application/vnd.oci.image.manifest.v1+json');
      await assert.rejects(repo.pushReference(bad.desc, bad.data, 'bad'), (err: unknown) => {
        assert.ok(err instanceof RequestError, String(err));
        assert.equal(err.code, 'MANIFEST_INVALID');
        assert.equal(err.status, 400);
        return true;
      });
    });
  });
}
