import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { request } from '../helpers/http.js';
import type { Registry } from '../helpers/registry.js';
import { pinnedTo, startWorkers, workersYaml } from './helpers.js';
import { Front, pushImage, sha256, startBerth, tempDir, type Berth } from '../proxy/helpers.js';

/**
 * A mirror's expiry runs in the jobs worker (slot 0); pulls served by the other workers reach it
 * (`expiry-touch` through the primary). Content pulled only through worker 1 is scheduled there
 * and expires ttl after its last pull, and content pulled through worker 1 again and again
 * outlives its ttl.
 */
const tmp = tempDir('workers-expiry');
let upstream: Berth;
let front: Front;
let mirror: Registry;
let worker1: http.Agent;

before(async () => {
  upstream = await startBerth(`${tmp.dir}/upstream`);
  front = await new Front(upstream.url).start();
  mirror = await startWorkers(2, {
    yaml: workersYaml([
      'proxy:',
      `  remoteurl: ${front.url}`,
      '  ttl: 3s',
    ]),
  });
  worker1 = await pinnedTo(mirror, 1);
});
after(async () => {
  worker1?.destroy();
  await mirror?.stop();
  await front?.stop();
  await upstream?.close();
  tmp.cleanup();
});

describe('mirror expiry with two workers', () => {
  it('expires content pulled through worker 1 ttl after its last pull, and keeps what worker 1 keeps serving', async () => {
    const img = await pushImage(upstream.url, 'team/app', 'v1', { layers: 2 });
    const [kept, dropped] = img.blobs.slice(1);
    const pull = async (digest: string) => {
      const res = await request(mirror.url, 'GET', `/v2/team/app/blobs/${digest}`, { agent: worker1 });
      assert.equal(res.status, 200);
      assert.equal(sha256(res.body), digest);
    };
    const fetches = (digest: string) => front.count('GET', `/blobs/${digest}`);
    await pull(kept!.digest);
    await pull(dropped!.digest);
    assert.deepEqual([fetches(kept!.digest), fetches(dropped!.digest)], [1, 1]);

    // Three ttls of pulls of one blob through worker 1, every 250 ms.
    for (const start = Date.now(); Date.now() - start < 9000; ) {
      await pull(kept!.digest);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(fetches(kept!.digest), 1, 'the blob pulled all along never expired');
    await pull(dropped!.digest);
    assert.equal(fetches(dropped!.digest), 2, 'the blob pulled once expired and was fetched again');
  });
});
