import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from 'node:test';
import { Redis } from 'ioredis';
import type { RedisServer } from '../helpers/redis.js';
import type { S3Server } from '../helpers/s3.js';
import type { Registry } from '../helpers/registry.js';
import { blob, digest, imageConfig, ociManifest, random, repoName } from '../helpers/content.js';
import { pushBlobs, pushManifest, getManifest } from '../helpers/push.js';

/**
 * What several Berth processes sharing one storage must do as one registry (docs/deployment.md),
 * over three handles A, B, C: three instances with one redis (multi-instance.test.ts), or one
 * `berth serve` whose workers take the handles' connections in turn (test/cluster/workers.test.ts).
 */
export interface Setup {
  instances: () => Registry[];
  /** With redis: the blob descriptor is shared there. */
  redis?: () => RedisServer;
  /** On S3: blob GETs redirect to the bucket. */
  s3?: () => S3Server;
}

/** The path and query of a Location, to send to another instance. */
const rel = (location: string) => {
  const u = new URL(location, 'http://x');
  return u.pathname + u.search;
};
const withDigest = (location: string, d: string) => `${rel(location)}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(d)}`;

export function multiInstanceScenarios(setup: Setup): void {
  it('continues an upload started on A on B and finishes it on C', async () => {
    const instances = setup.instances();
    const [a, b, c] = instances as [Registry, Registry, Registry];
    const repo = repoName('multi');
    const data = random(7 * 1024 * 1024 + 123);
    const d = digest(data);
    const start = await a.req('POST', `/v2/${repo}/blobs/uploads/`);
    assert.equal(start.status, 202);
    assert.match(start.header('location')!, /_state=/);
    const cut = 6 * 1024 * 1024;
    const patch = await b.req('PATCH', rel(start.header('location')!), {
      body: data.subarray(0, cut),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${cut - 1}` },
    });
    assert.equal(patch.status, 202, patch.text());
    assert.equal(patch.header('range'), `0-${cut - 1}`);
    const status = await a.req('GET', rel(patch.header('location')!));
    assert.equal(status.status, 204);
    assert.equal(status.header('range'), `0-${cut - 1}`);
    const put = await c.req('PUT', withDigest(patch.header('location')!, d), {
      body: data.subarray(cut),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${cut}-${data.length - 1}` },
    });
    assert.equal(put.status, 201, put.text());
    for (const r of instances) {
      const head = await r.req('HEAD', `/v2/${repo}/blobs/${d}`);
      assert.ok(head.status === 200 || head.status === 307, `HEAD on ${r.url}: ${head.status}`);
    }
    const get = await b.req('GET', `/v2/${repo}/blobs/${d}`);
    if (setup.s3) {
      // GET answers with a redirect to a presigned URL on the S3 server.
      assert.equal(get.status, 307);
      assert.ok(get.header('location')!.startsWith(setup.s3().endpoint));
      const fetched = Buffer.from(await (await fetch(get.header('location')!)).arrayBuffer());
      assert.ok(fetched.equals(data));
    } else {
      assert.equal(get.status, 200);
      assert.ok(get.body.equals(data));
    }
    if (setup.redis) {
      // Redis holds the descriptor, under Distribution's key.
      const client = new Redis({ host: '127.0.0.1', port: setup.redis().port });
      try {
        assert.equal(await client.hget(`blobs::${d}`, 'length'), String(data.length));
        assert.equal(await client.sismember(`repository::${repo}::blobs`, d), 1);
      } finally {
        client.disconnect();
      }
    }
  });

  it('refuses an upload token that does not verify', async () => {
    const [a, b] = setup.instances() as [Registry, Registry];
    const repo = repoName('multi');
    const start = await a.req('POST', `/v2/${repo}/blobs/uploads/`);
    const location = rel(start.header('location')!);
    const tampered = location.replace(/_state=([A-Za-z0-9_-])/, (_m, ch: string) => `_state=${ch === 'A' ? 'B' : 'A'}`);
    const res = await b.req('PATCH', tampered, { body: Buffer.from('x'), headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(res.status, 400);
    assert.match(res.text(), /BLOB_UPLOAD_INVALID/);
    const other = location.replace(`/v2/${repo}/`, `/v2/${repo}-other/`);
    assert.equal((await b.req('GET', other)).status, 400);
  });

  it('serves pushes, tag moves and deletes made on one instance from the others at once', async () => {
    const instances = setup.instances();
    const repo = repoName('multi');
    const config = imageConfig();
    const layers = [blob(random(1000)), blob(random(2000))];
    await pushBlobs(instances[0]!, repo, [config, ...layers]);
    let previous: string | undefined;
    for (let round = 0; round < 6; round++) {
      const writer = instances[round % 3]!;
      const m = ociManifest({ config: config.descriptor, layers: [layers[round % 2]!.descriptor], annotations: { round: String(round) } });
      // Every instance has just read the tag (and may have cached it).
      if (previous) {
        for (const r of instances) assert.equal((await getManifest(r, repo, 'latest')).header('docker-content-digest'), previous);
      }
      await pushManifest(writer, repo, 'latest', m);
      for (const r of instances) {
        const res = await getManifest(r, repo, 'latest');
        assert.equal(res.status, 200);
        assert.equal(res.header('docker-content-digest'), m.digest, `round ${round}: ${r.url} serves the new tag`);
      }
      const tags = await instances[(round + 1) % 3]!.req('GET', `/v2/${repo}/tags/list`);
      assert.deepEqual(tags.json().tags, ['latest']);
      if (previous) {
        // The previous manifest is deleted through the next instance; all see it gone.
        const del = await instances[(round + 2) % 3]!.req('DELETE', `/v2/${repo}/manifests/${previous}`);
        assert.equal(del.status, 202);
        for (const r of instances) assert.equal((await getManifest(r, repo, previous)).status, 404, `${r.url} after delete`);
      }
      previous = m.digest;
    }
    for (const r of instances) {
      const catalog = await r.req('GET', '/v2/_catalog');
      assert.ok(catalog.json().repositories.includes(repo), `${r.url} lists ${repo}`);
    }
  });
  it('shows a tag moved through one instance on every instance\'s UI tag page at once, also where the kept target is past berth.metadatattl', async () => {
    const instances = setup.instances();
    const repo = repoName('ui-page');
    const config = imageConfig();
    await pushBlobs(instances[0]!, repo, [config]);
    const [first, second] = ['1', '2'].map((n) => ociManifest({ config: config.descriptor, layers: [], annotations: { n } }));
    await pushManifest(instances[0]!, repo, 'v', first!);
    const shown = async (r: Registry) => (await r.req('GET', `/v2/_berth/repositories/${repo}`)).json().tags.map((t: { digest: string }) => t.digest);
    for (const r of instances) assert.deepEqual(await shown(r), [first!.digest]);
    // Past the 1 s ttl the pages would answer their kept targets once more while reading them again.
    await sleep(1200);
    await pushManifest(instances[1]!, repo, 'v', second!);
    for (const r of instances) assert.deepEqual(await shown(r), [second!.digest], `${r.url} shows the moved tag`);
  });
  it('keeps every instance\'s kept tag lists and catalog current when another instance tags, untags and creates', async () => {
    const instances = setup.instances();
    const [a, b, c] = instances as [Registry, Registry, Registry];
    const repo = repoName('kept');
    const image = imageConfig();
    await pushBlobs(a, repo, [image]);
    const m = ociManifest({ config: image.descriptor, layers: [] });
    for (const tag of ['one', 'three', 'two']) assert.equal((await pushManifest(a, repo, tag, m)).status, 201);
    // B and C now keep the tag list and the catalog in memory.
    for (const r of [b, c]) {
      assert.deepEqual((await r.req('GET', `/v2/${repo}/tags/list`)).json().tags, ['one', 'three', 'two']);
      assert.ok((await r.req('GET', '/v2/_catalog')).json().repositories.includes(repo));
    }
    assert.equal((await a.req('DELETE', `/v2/${repo}/manifests/three`)).status, 202);
    assert.equal((await pushManifest(c, repo, 'four', m)).status, 201);
    const created = repoName('kept-new');
    await pushBlobs(b, created, [image]);
    assert.equal((await pushManifest(b, created, 'x', m)).status, 201);
    for (const r of instances) {
      assert.deepEqual((await r.req('GET', `/v2/${repo}/tags/list`)).json().tags, ['four', 'one', 'two'], `${r.url} tags`);
      const names: string[] = (await r.req('GET', '/v2/_catalog')).json().repositories;
      assert.ok(names.includes(created) && names.includes(repo), `${r.url} catalog`);
    }
  });
}
