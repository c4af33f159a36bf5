// Several upstreams in one instance (berth.proxy.upstreams): a prefix per upstream, local pushes
// to names under no prefix, a default upstream for unprefixed names, metrics per upstream.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metricsRegistry } from '../../src/metrics/registry.js';
import { type Berth, type Image, basic, getManifest, pullImage, pushImage, startBerth, tempDir, writeHtpasswd } from './helpers.js';

describe('mirror of several upstreams', () => {
  const tmp = tempDir('multi');
  let hub: Berth;
  let corp: Berth;
  let mirror: Berth;
  let withDefault: Berth;
  let alpine: Image;
  let tool: Image;

  before(async () => {
    writeHtpasswd(`${tmp.dir}/htpasswd`, { bot: 'bot-pw' });
    hub = await startBerth(`${tmp.dir}/hub`);
    corp = await startBerth(`${tmp.dir}/corp`, `auth:\n  htpasswd:\n    realm: corp\n    path: ${tmp.dir}/htpasswd\n`);
    alpine = await pushImage(hub.url, 'library/alpine', '3.20');
    tool = await pushImage(corp.url, 'team/tool', 'v1', { headers: { Authorization: basic('bot', 'bot-pw') } });
    mirror = await startBerth(
      `${tmp.dir}/mirror`,
      [
        'berth:',
        '  proxy:',
        '    upstreams:',
        '      - prefix: dockerhub',
        `        remoteurl: ${hub.url}`,
        '      - prefix: corp/mirror',
        `        remoteurl: ${corp.url}`,
        '        username: bot',
        '        password: bot-pw',
        '        ttl: 24h',
        '',
      ].join('\n'),
    );
    withDefault = await startBerth(`${tmp.dir}/mirror-default`, `proxy:\n  remoteurl: ${hub.url}\nberth:\n  proxy:\n    upstreams:\n      - prefix: corp\n        remoteurl: ${corp.url}\n        username: bot\n        password: bot-pw\n`);
  });

  after(async () => {
    await withDefault?.close();
    await mirror?.close();
    await corp?.close();
    await hub?.close();
    tmp.cleanup();
  });

  it('remotenamespace (Distribution v3): a name is looked up under that namespace upstream, for proxy and for a prefix', async () => {
    const ns = await startBerth(`${tmp.dir}/mirror-ns`, `proxy:\n  remoteurl: ${hub.url}\n  remotenamespace: library\nberth:\n  proxy:\n    upstreams:\n      - prefix: hub\n        remoteurl: ${hub.url}\n        remotenamespace: library\n`);
    try {
      assert.equal(await pullImage(ns.url, 'alpine', '3.20'), alpine.manifestDigest);
      assert.equal(await pullImage(ns.url, 'hub/alpine', '3.20'), alpine.manifestDigest);
      assert.equal((await getManifest(ns.url, 'library/alpine', '3.20')).status, 404, 'library/library/alpine does not exist upstream');
    } finally {
      await ns.close();
    }
  });

  it('maps each prefix to its upstream (dockerhub/library/alpine → library/alpine)', async () => {
    assert.equal(await pullImage(mirror.url, 'dockerhub/library/alpine', '3.20'), alpine.manifestDigest);
    assert.equal(await pullImage(mirror.url, 'corp/mirror/team/tool', 'v1'), tool.manifestDigest);
    assert.equal((await getManifest(mirror.url, 'dockerhub/team/tool', 'v1')).status, 404, 'not on that upstream');
  });

  it('accepts pushes to names under no prefix, alongside the mirrored ones', async () => {
    const mine = await pushImage(mirror.url, 'local/app', 'v1', { layers: 2 });
    assert.equal(await pullImage(mirror.url, 'local/app', 'v1'), mine.manifestDigest);
    // "corp/other" is not under "corp/mirror": local.
    await pushImage(mirror.url, 'corp/other', 'v1');
    // A manifest that reuses a cached blob is pushed by mounting it from the mirrored repository.
    const mount = await fetch(`${mirror.url}/v2/local/copy/blobs/uploads/?mount=${alpine.blobs[1]!.digest}&from=dockerhub/library/alpine`, { method: 'POST' });
    assert.equal(mount.status, 201);
    const refused = await fetch(`${mirror.url}/v2/dockerhub/library/alpine/blobs/uploads/`, { method: 'POST' });
    assert.equal(refused.status, 405);
    const res = await fetch(`${mirror.url}/v2/_catalog`);
    assert.deepEqual(((await res.json()) as { repositories: string[] }).repositories, ['corp/mirror/team/tool', 'corp/other', 'dockerhub/library/alpine', 'local/app']);
  });

  it('serves unprefixed names from the default upstream and prefixed ones from theirs', async () => {
    assert.equal(await pullImage(withDefault.url, 'library/alpine', '3.20'), alpine.manifestDigest);
    assert.equal(await pullImage(withDefault.url, 'corp/team/tool', 'v1'), tool.manifestDigest);
    assert.equal((await fetch(`${withDefault.url}/v2/anything/blobs/uploads/`, { method: 'POST' })).status, 405);
  });

  it('counts hits and misses per upstream', async () => {
    await pullImage(mirror.url, 'dockerhub/library/alpine', '3.20');
    const text = await metricsRegistry().metrics();
    assert.match(text, /registry_proxy_hits_total\{type="blob",upstream="dockerhub"\} [1-9]/);
    assert.match(text, /registry_proxy_misses_total\{type="blob",upstream="corp\/mirror"\} [1-9]/);
    assert.match(text, /berth_proxy_upstream_request_duration_seconds_count\{upstream="dockerhub",method="HEAD"\} [1-9]/);
  });
});
