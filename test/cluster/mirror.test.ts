import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../helpers/http.js';
import type { Registry } from '../helpers/registry.js';
import { startWorkers, workersThatServed, workersYaml } from './helpers.js';
import { Front, pushImage, sha256, startBerth, tempDir, type Berth } from '../proxy/helpers.js';

/**
 * A pull-through mirror served by two workers: concurrent pulls of one blob, or of one manifest
 * by digest, reaching both workers make one upstream fetch (src/cluster/, MirrorPeers.fetchTurn).
 */
const tmp = tempDir('workers');
let upstream: Berth;
let front: Front;
let mirror: Registry;

before(async () => {
  upstream = await startBerth(`${tmp.dir}/upstream`);
  front = await new Front(upstream.url).start();
  mirror = await startWorkers(2, {
    yaml: workersYaml([
      'proxy:',
      `  remoteurl: ${front.url}`,
    ]),
  });
});
after(async () => {
  await mirror?.stop();
  await front?.stop();
  await upstream?.close();
  tmp.cleanup();
});

describe('a mirror with two workers', () => {
  it('fetches a blob from the upstream once for six concurrent pulls spread over the workers', async () => {
    const big = await pushImage(upstream.url, 'library/big', 'v1', { layers: 1, layerSize: 16 * 1024 * 1024 });
    const layer = big.blobs[1]!;
    const path = `/v2/library/big/blobs/${layer.digest}`;
    const pulls = await Promise.all(Array.from({ length: 6 }, () => request(mirror.url, 'GET', path, { fresh: true })));
    for (const p of pulls) {
      assert.equal(p.status, 200);
      assert.equal(sha256(p.body), layer.digest);
    }
    assert.equal(front.count('GET', `/blobs/${layer.digest}`), 1, 'one upstream fetch');
    const servedBy = await workersThatServed(mirror, (l) => l.url === path, 2);
    assert.deepEqual([...servedBy].sort(), [0, 1], 'the pulls reached both workers');
  });

  it('fetches a manifest from the upstream once for six concurrent pulls by digest spread over the workers', async () => {
    const image = await pushImage(upstream.url, 'library/small', 'v1');
    const path = `/v2/library/small/manifests/${image.manifestDigest}`;
    // Each upstream request waits, so that every pull arrives while the first fetch is running.
    front.delayMs = 300;
    try {
      const pulls = await Promise.all(
        Array.from({ length: 6 }, () => request(mirror.url, 'GET', path, { fresh: true, headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })),
      );
      for (const p of pulls) {
        assert.equal(p.status, 200);
        assert.equal(sha256(p.body), image.manifestDigest);
      }
    } finally {
      front.delayMs = 0;
    }
    assert.equal(front.count('GET', `/manifests/${image.manifestDigest}`), 1, 'one upstream fetch');
    const servedBy = await workersThatServed(mirror, (l) => l.url === path, 2);
    assert.deepEqual([...servedBy].sort(), [0, 1], 'the pulls reached both workers');
  });
});
