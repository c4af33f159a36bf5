// Berth's JSON endpoints for the web UI (docs/ui.md) over HTTP against the real server: the
// session, the repositories page (flat, tree, filter, paging), a repository's tag page (rows with
// summaries, filter by substring and regex, sorts, paging, sizes counting shared layers once),
// an image, the referrers tree, deleting one tag, and the page at "/".
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { assertError, pushImage, pushManifest } from '../helpers/push.js';
import { ARTIFACT, CREATED, pushImageCreated, pushMultiArch, pushReferrer, type MultiArch } from './fixture.js';
import type { Manifest } from '../helpers/content.js';

describe('UI endpoints', () => {
  let reg: Registry;
  let multi: MultiArch;
  let sbom: Manifest;
  let sig: Manifest;
  let sbomSig: Manifest;
  const repo = 'team/app';

  before(async () => {
    reg = await startRegistry({ extraYaml: 'berth:\n  ui:\n    title: Test <Registry>\n' });
    multi = await pushMultiArch(reg, repo, 'v1.0');
    // v1.0 and stable name the same index; the others are single images.
    await pushManifest(reg, repo, 'stable', multi.index);
    for (const tag of ['v1.1', 'v2.0-rc1', 'latest']) await pushImage(reg, repo, tag);
    sbom = await pushReferrer(reg, repo, multi.index, ARTIFACT.sbom);
    sig = await pushReferrer(reg, repo, multi.index, ARTIFACT.signature);
    sbomSig = await pushReferrer(reg, repo, sbom, ARTIFACT.signature);
    for (const name of ['team/tools', 'team/deep/one', 'team-x/app', 'other', 'zeta']) await pushImage(reg, name, 'latest');
  });
  after(async () => {
    await reg?.stop();
  });

  it('session: title, no auth, deletes on', async () => {
    const res = await reg.req('GET', '/v2/_berth/session');
    assert.equal(res.status, 200);
    const body = res.json();
    assert.equal(body.title, 'Test <Registry>');
    assert.equal(body.auth, null);
    assert.equal(body.authenticated, true);
    assert.equal(body.user, null);
    assert.equal(body.deleteEnabled, true);
    assert.equal(body.readOnly, false);
    assert.match(body.version, /^\d+\.\d+\.\d+/);
  });

  it('repositories: the flat list, filtered and paged', async () => {
    const all = (await reg.req('GET', '/v2/_berth/repositories')).json();
    assert.deepEqual(all.repositories.map((r: { name: string }) => r.name), ['other', 'team-x/app', 'team/app', 'team/deep/one', 'team/tools', 'zeta']);
    assert.equal(all.total, 6);
    const page = (await reg.req('GET', '/v2/_berth/repositories?q=TEAM&n=2&offset=1')).json();
    assert.deepEqual(page.repositories.map((r: { name: string }) => r.name), ['team/app', 'team/deep/one']);
    assert.equal(page.matched, 4);
    const regex = (await reg.req('GET', `/v2/_berth/repositories?regex=${encodeURIComponent('^team/[a-z]+$')}`)).json();
    assert.deepEqual(regex.repositories.map((r: { name: string }) => r.name), ['team/app', 'team/tools']);
  });

  it('repositories: one level of the namespace tree', async () => {
    const root = (await reg.req('GET', '/v2/_berth/repositories?view=tree')).json();
    assert.deepEqual(root.repositories, [
      { name: 'other', repository: true, below: 0 },
      { name: 'team', repository: false, below: 3 },
      { name: 'team-x', repository: false, below: 1 },
      { name: 'zeta', repository: true, below: 0 },
    ]);
    const team = (await reg.req('GET', '/v2/_berth/repositories?view=tree&prefix=team')).json();
    assert.equal(team.prefix, 'team/');
    assert.deepEqual(team.repositories, [
      { name: 'team/app', repository: true, below: 0 },
      { name: 'team/deep', repository: false, below: 1 },
      { name: 'team/tools', repository: true, below: 0 },
    ]);
  });

  it('repositories: bad parameters are 400s, never 500s', async () => {
    assertError(await reg.req('GET', '/v2/_berth/repositories?n=-1'), 400, 'PAGINATION_NUMBER_INVALID');
    assertError(await reg.req('GET', '/v2/_berth/repositories?view=graph'), 400, 'UNSUPPORTED');
    assertError(await reg.req('GET', '/v2/_berth/repositories?regex=(unclosed'), 400, 'UNSUPPORTED');
    assertError(await reg.req('GET', '/v2/_berth/repositories?prefix=../etc'), 400, 'UNSUPPORTED');
    assertError(await reg.req('POST', '/v2/_berth/repositories'), 405, 'UNSUPPORTED');
  });

  it('a tag page: one request gives every row with digest, size, platforms and their sizes, times', async () => {
    const res = await reg.req('GET', `/v2/_berth/repositories/${repo}`);
    assert.equal(res.status, 200);
    const body = res.json();
    assert.equal(body.tagCount, 5);
    assert.deepEqual(body.tags.map((t: { name: string }) => t.name), ['latest', 'stable', 'v1.0', 'v1.1', 'v2.0-rc1']);
    const v1 = body.tags.find((t: { name: string }) => t.name === 'v1.0');
    assert.equal(v1.digest, multi.index.digest);
    assert.equal(v1.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(v1.size, multi.size, 'the shared base layer counted once');
    assert.deepEqual(
      v1.platforms.map((p: { os: string; architecture: string; size: number; digest: string; created: string }) => [p.os, p.architecture, p.size, p.digest, p.created]),
      multi.platforms.map((p) => ['linux', p.architecture, p.size, p.manifest.digest, CREATED[p.architecture as 'amd64' | 'arm64']]),
    );
    assert.equal(v1.created, CREATED.arm64, 'the latest platform');
    assert.ok(Date.now() - Date.parse(v1.pushed) < 10 * 60_000, `pushed ${v1.pushed}`);
    assert.equal(v1.pulled, null);
    assert.equal(body.canDelete, true);
    assert.ok(body.size > multi.size, 'the repository holds more than the index');
  });

  it('a tag page: filter by substring or regex, sort, page', async () => {
    const q = (await reg.req('GET', `/v2/_berth/repositories/${repo}?q=V1`)).json();
    assert.deepEqual(q.tags.map((t: { name: string }) => t.name), ['v1.0', 'v1.1']);
    assert.equal(q.matched, 2);
    const re = (await reg.req('GET', `/v2/_berth/repositories/${repo}?regex=${encodeURIComponent('^v\\d+\\.\\d+$')}`)).json();
    assert.deepEqual(re.tags.map((t: { name: string }) => t.name), ['v1.0', 'v1.1']);
    const desc = (await reg.req('GET', `/v2/_berth/repositories/${repo}?order=desc&n=2&offset=1`)).json();
    assert.deepEqual(desc.tags.map((t: { name: string }) => t.name), ['v1.1', 'v1.0']);
    const bySize = (await reg.req('GET', `/v2/_berth/repositories/${repo}?sort=size`)).json();
    assert.deepEqual(bySize.tags.slice(0, 2).map((t: { name: string }) => t.name), ['stable', 'v1.0'], 'the index is the largest; ties by name');
    const byCreated = (await reg.req('GET', `/v2/_berth/repositories/${repo}?sort=created&order=desc&n=1`)).json();
    assert.equal(byCreated.tags[0].created, CREATED.arm64);
    assertError(await reg.req('GET', `/v2/_berth/repositories/${repo}?sort=color`), 400, 'UNSUPPORTED');
    assertError(await reg.req('GET', `/v2/_berth/repositories/${repo}?regex=${encodeURIComponent('a{2000}')}`), 400, 'UNSUPPORTED');
  });

  it('a tag page of an unknown repository is NAME_UNKNOWN; a bad name NAME_INVALID', async () => {
    assertError(await reg.req('GET', '/v2/_berth/repositories/no/such'), 404, 'NAME_UNKNOWN');
    assertError(await reg.req('GET', '/v2/_berth/repositories/Bad..Name'), 400, 'NAME_INVALID');
  });

  it('an image: an index with every platform, its tags and referrers', async () => {
    const body = (await reg.req('GET', `/v2/_berth/images/${repo}/v1.0`)).json();
    assert.equal(body.digest, multi.index.digest);
    assert.equal(body.platforms.length, 2);
    assert.deepEqual(body.tags, ['stable', 'v1.0']);
    assert.equal(body.referrers, 2);
    assert.deepEqual(body.manifest, multi.index.json);
  });

  it('an image: config fields and layers with the step that made each', async () => {
    const amd = multi.platforms[0]!;
    const body = (await reg.req('GET', `/v2/_berth/images/${repo}/${amd.manifest.digest}`)).json();
    assert.equal(body.size, amd.size);
    assert.deepEqual(body.config.env, ['PATH=/usr/bin', 'ARCH=amd64']);
    assert.deepEqual(body.config.entrypoint, ['/bin/app']);
    assert.deepEqual(body.config.cmd, ['--serve']);
    assert.deepEqual(body.config.labels, { 'org.opencontainers.image.title': 'demo' });
    assert.deepEqual(body.config.exposedPorts, ['8080/tcp']);
    assert.equal(body.config.history.length, 3);
    assert.deepEqual(body.layers.map((l: { createdBy: string; size: number }) => [l.createdBy, l.size]), [['ADD base.tar /', multi.base.data.length], ['COPY app-amd64 /bin/app', 1000]]);
    assert.deepEqual(body.tags, []);
    assertError(await reg.req('GET', `/v2/_berth/images/${repo}/nope`), 404, 'MANIFEST_UNKNOWN');
    assertError(await reg.req('GET', `/v2/_berth/images/other/${amd.manifest.digest}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('the referrers tree: kinds by artifactType, a signature of the SBOM below it', async () => {
    const body = (await reg.req('GET', `/v2/_berth/referrers/${repo}/${multi.index.digest}`)).json();
    assert.equal(body.count, 3);
    const byDigest = new Map(body.referrers.map((r: { digest: string }) => [r.digest, r]));
    const s = byDigest.get(sbom.digest) as { kind: string; referrers: Array<{ digest: string; kind: string }> };
    assert.equal(s.kind, 'sbom');
    assert.deepEqual(s.referrers.map((r) => [r.digest, r.kind]), [[sbomSig.digest, 'signature']]);
    assert.equal((byDigest.get(sig.digest) as { kind: string }).kind, 'signature');
  });

  it('deleting one tag leaves its sibling on the same digest', async () => {
    await pushManifest(reg, repo, 'twin-a', multi.index);
    await pushManifest(reg, repo, 'twin-b', multi.index);
    const del = await reg.req('DELETE', `/v2/${repo}/manifests/twin-a`);
    assert.equal(del.status, 202);
    const page = (await reg.req('GET', `/v2/_berth/repositories/${repo}?q=twin`)).json();
    assert.deepEqual(page.tags.map((t: { name: string; digest: string }) => [t.name, t.digest]), [['twin-b', multi.index.digest]]);
    assert.equal((await reg.req('GET', `/v2/${repo}/manifests/${multi.index.digest}`)).status, 200);
  });

  it('a creation time at the Unix epoch or Go\'s zero time (reproducible builds) is null, in the row, the config and its history', async () => {
    await pushImageCreated(reg, repo, 'repro-epoch', '1970-01-01T00:00:00Z');
    await pushImageCreated(reg, repo, 'repro-zero', '0001-01-01T00:00:00Z');
    await pushImageCreated(reg, repo, 'repro-real', '1970-01-01T00:00:01Z');
    const page = (await reg.req('GET', `/v2/_berth/repositories/${repo}?q=repro`)).json();
    assert.deepEqual(page.tags.map((t: { name: string; created: string | null; platforms: Array<{ created: string | null }> }) => [t.name, t.created, t.platforms[0]!.created]), [
      ['repro-epoch', null, null],
      ['repro-real', '1970-01-01T00:00:01Z', '1970-01-01T00:00:01Z'],
      ['repro-zero', null, null],
    ]);
    const image = (await reg.req('GET', `/v2/_berth/images/${repo}/repro-epoch`)).json();
    assert.equal(image.created, null);
    assert.equal(image.config.created, null);
    assert.deepEqual(image.config.history.map((h: { created: string | null }) => h.created), [null, null, null]);
  });

  it('a tag moved by another program (unannounced) shows once its kept target, past berth.metadatattl, was read again behind a page', async () => {
    const first = await pushImageCreated(reg, repo, 'moved-outside', '2024-05-01T00:00:00Z');
    const second = await pushImageCreated(reg, repo, 'moved-outside', '2024-05-02T00:00:00Z');
    await pushManifest(reg, repo, 'moved-outside', first);
    const shown = async () => (await reg.req('GET', `/v2/_berth/repositories/${repo}?q=moved-outside`)).json().tags.map((t: { digest: string }) => t.digest);
    assert.deepEqual(await shown(), [first.digest]);
    // As Distribution or a restore would: the link rewritten on disk, no change announced.
    await writeFile(path.join(reg.root, 'docker/registry/v2/repositories', repo, '_manifests/tags/moved-outside/current/link'), second.digest);
    // Pages answer the kept target (fresh for 1 s, then once more while it is read again); well
    // within the 30 s a stale target may be answered, a page shows the new one.
    const deadline = Date.now() + 15_000;
    let digests: string[];
    while ((digests = await shown())[0] !== second.digest) {
      assert.deepEqual(digests, [first.digest]);
      assert.ok(Date.now() < deadline, 'the moved tag shows within 15 s');
      await sleep(100);
    }
  });

  it('the repository size is computed again once a manifest is pushed here, long before it would age', async () => {
    // A repository of its own (pushes by the other tests would change the size meanwhile).
    const grows = 'sizes/grows';
    const bytesOf = (m: Manifest) => {
      const doc = JSON.parse(m.bytes.toString('utf8')) as { config: { size: number }; layers: Array<{ size: number }> };
      return m.bytes.length + doc.config.size + doc.layers.reduce((n, l) => n + l.size, 0);
    };
    const sizeOf = async (): Promise<number> => (await reg.req('GET', `/v2/_berth/repositories/${grows}?n=1`)).json().size;
    const first = await pushImageCreated(reg, grows, 'one', '2024-06-01T00:00:00Z');
    const before = await sizeOf();
    assert.equal(before, bytesOf(first));
    const expected = before + bytesOf(await pushImageCreated(reg, grows, 'two', '2024-06-02T00:00:00Z'));
    // The size kept is answered once more while it is computed again (the kept listings' rule).
    const deadline = Date.now() + 15_000;
    let size: number;
    while ((size = await sizeOf()) !== expected) {
      assert.equal(size, before);
      assert.ok(Date.now() < deadline, 'the new size shows within 15 s (it is kept 10 minutes when nothing changes)');
      await sleep(50);
    }
  });

  it('serves the page at "/" to browsers only, titled and with a strict CSP', async () => {
    const page = await reg.req('GET', '/', { headers: { Accept: 'text/html,application/xhtml+xml' } });
    assert.equal(page.status, 200);
    assert.match(page.header('content-type') ?? '', /^text\/html/);
    assert.match(page.text(), /<title>Test &#60;Registry&#62;<\/title>/);
    assert.match(page.header('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    assert.equal(page.header('cache-control'), 'no-cache');
    const again = await reg.req('GET', '/', { headers: { Accept: 'text/html', 'If-None-Match': page.header('etag')! } });
    assert.equal(again.status, 304);
    const script = /src="_ui\/([^"]+\.js)"/.exec(page.text())?.[1];
    assert.ok(script, 'the page names its script');
    const js = await reg.req('GET', `/_ui/${script}`);
    assert.equal(js.status, 200);
    assert.match(js.header('cache-control') ?? '', /immutable/);
    assertError(await reg.req('GET', '/'), 404, 'UNSUPPORTED');
    assertError(await reg.req('GET', '/_ui/nothing.js'), 404, 'UNSUPPORTED');
    assert.equal((await reg.req('GET', '/v2/')).status, 200);
  });
});

describe('UI off, and deletes off', () => {
  it('berth.ui.enabled false: no page; the JSON endpoints stay; canDelete false without storage.delete', async () => {
    const reg = await startRegistry({ deleteEnabled: false, extraYaml: 'berth:\n  ui:\n    enabled: false\n' });
    try {
      await pushImage(reg, 'solo', 'latest');
      assertError(await reg.req('GET', '/', { headers: { Accept: 'text/html' } }), 404, 'UNSUPPORTED');
      const page = (await reg.req('GET', '/v2/_berth/repositories/solo')).json();
      assert.equal(page.canDelete, false);
      assert.equal((await reg.req('GET', '/v2/_berth/session')).json().deleteEnabled, false);
    } finally {
      await reg.stop();
    }
  });

  it('read-only mode: no delete offered, and the session says so', async () => {
    const writable = await startRegistry();
    await pushImage(writable, 'kept', 'latest');
    await writable.stop({ keep: true });
    const reg = await startRegistry({ base: writable.base, readonly: true });
    try {
      assert.equal((await reg.req('GET', '/v2/_berth/session')).json().readOnly, true);
      assert.equal((await reg.req('GET', '/v2/_berth/repositories/kept')).json().canDelete, false);
      assert.equal((await reg.req('GET', '/v2/_berth/images/kept/latest')).json().canDelete, false);
    } finally {
      await reg.stop();
      await rm(writable.base, { recursive: true, force: true });
    }
  });
});
