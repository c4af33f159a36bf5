import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { digest, random, repoName } from '../helpers/content.js';
import { request } from '../helpers/http.js';
import { pushBlob, pushImage } from '../helpers/push.js';
import type { Registry } from '../helpers/registry.js';
import { logLines, pinnedTo, startWorkers, workersYaml } from './helpers.js';

/**
 * The garbage collector runs in the jobs worker (slot 0); what another worker relies on must be
 * kept all the same (BlobGuard.peers: before each mark the collector takes in the other workers'
 * uses, and each deletion is claimed in every worker, which refuses it after a recent use there).
 * An unreferenced blob and an untagged manifest that worker 1 keeps serving outlive collections
 * past the grace period, with everything the manifest names; content nobody asks for goes. With
 * the peers left out (worker.ts guardPeers answering nothing) worker 1's blob is deleted.
 */
let registry: Registry;
let worker1: http.Agent;

before(async () => {
  registry = await startWorkers(2, {
    yaml: workersYaml([
      'berth:',
      '  gc:',
      '    enabled: true',
      '    interval: 1s',
      '    grace: 2s',
      '    deleteuntagged: true',
    ]),
  });
  worker1 = await pinnedTo(registry, 1);
});
after(async () => {
  worker1?.destroy();
  await registry?.stop();
});

describe('the garbage collector with two workers', () => {
  it('keeps what worker 1 is serving (an unreferenced blob; an untagged manifest and what it names), and deletes what nobody uses', async () => {
    const repo = repoName('guard');
    const used = random(64 * 1024);
    const unused = random(64 * 1024);
    await pushBlob(registry, repo, used);
    await pushBlob(registry, repo, unused);
    const image = await pushImage(registry, repo); // untagged: pushed by digest
    const dropped = await pushImage(registry, repo);
    const blobPath = (d: string) => `/v2/${repo}/blobs/${d}`;
    const manifestPath = (d: string) => `/v2/${repo}/manifests/${d}`;
    const finished = () => logLines(registry).filter((l) => l.msg === 'garbage collection finished').length;

    // Worker 1 is asked for the blob and the manifest every 250 ms until, past the grace period
    // (3 s on), three more collections have finished: each ran with those uses recent in worker 1 alone.
    const start = Date.now();
    for (let seen: number | undefined; seen === undefined || finished() < seen + 3; ) {
      assert.equal((await request(registry.url, 'HEAD', blobPath(digest(used)), { agent: worker1 })).status, 200, 'worker 1 still serves the blob');
      const m = await request(registry.url, 'GET', manifestPath(image.manifest.digest), { agent: worker1, headers: { Accept: image.manifest.mediaType } });
      assert.equal(m.status, 200, 'worker 1 still serves the manifest');
      if (seen === undefined && Date.now() - start > 3000) seen = finished();
      assert.ok(Date.now() - start < 60_000, 'collections kept running');
      await new Promise((r) => setTimeout(r, 250));
    }

    const whole = async (d: string) => {
      const got = await request(registry.url, 'GET', blobPath(d), { fresh: true });
      assert.equal(got.status, 200, `${d} is there`);
      assert.equal(digest(got.body), d, `${d} is whole`);
    };
    await whole(digest(used));
    for (const b of [image.config, ...image.layers]) await whole(b.digest);
    const gone = async (path: string, what: string) => assert.equal((await request(registry.url, 'HEAD', path, { fresh: true })).status, 404, what);
    await gone(blobPath(digest(unused)), 'the blob nobody used was collected');
    await gone(manifestPath(dropped.manifest.digest), 'the untagged manifest nobody used was collected');
    for (const b of dropped.layers) await gone(blobPath(b.digest), 'and its layer');
    const workers = new Set(logLines(registry).filter((l) => l.msg === 'garbage collection finished').map((l) => l.worker));
    assert.deepEqual([...workers], [0], 'the collector ran in worker 0 only');
  });
});
