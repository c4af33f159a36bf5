// Expiry of cached content: entries in Distribution's /scheduler-state.json format, expiry after
// ttl, ttl refreshed by pulls, re-fetch after expiry, state surviving a restart, and a state file
// written the way Distribution writes it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type Berth, Front, type Image, getBlob, pullImage, pushImage, startBerth, tempDir } from './helpers.js';

const V2 = 'docker/registry/v2';

function layerLink(root: string, repo: string, digest: string): string {
  return `${root}/${V2}/repositories/${repo}/_layers/sha256/${digest.slice(7)}/link`;
}
function revisionLink(root: string, repo: string, digest: string): string {
  return `${root}/${V2}/repositories/${repo}/_manifests/revisions/sha256/${digest.slice(7)}/link`;
}
function blobData(root: string, digest: string): string {
  return `${root}/${V2}/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('mirror expiry', () => {
  const tmp = tempDir('expiry');
  let upstream: Berth;
  let front: Front;
  let mirror: Berth | undefined;
  let img: Image;
  const mirrorRoot = `${tmp.dir}/mirror`;
  const start = (ttl: string) => startBerth(mirrorRoot, `proxy:\n  remoteurl: ${front.url}\n  ttl: ${ttl}\n`);

  before(async () => {
    upstream = await startBerth(`${tmp.dir}/upstream`);
    front = await new Front(upstream.url).start();
    img = await pushImage(upstream.url, 'team/app', 'v1', { layers: 2 });
  });

  after(async () => {
    await mirror?.close();
    await front?.stop();
    await upstream?.close();
    tmp.cleanup();
  });

  it('expires content ttl after its last pull; pulls refresh it; expired content is fetched again', async () => {
    mirror = await start('3s');
    await pullImage(mirror.url, 'team/app', 'v1');
    const [config, kept, dropped] = img.blobs;
    // A client has every byte (Content-Length) a moment before the blob is verified and linked.
    await waitFor('the layer to be linked', () => existsSync(layerLink(mirrorRoot, 'team/app', dropped!.digest)));

    // Keep pulling one layer while the rest ages past its ttl.
    const keepPulling = (async () => {
      while (existsSync(layerLink(mirrorRoot, 'team/app', dropped!.digest))) {
        assert.equal((await getBlob(mirror!.url, 'team/app', kept!.digest)).status, 200);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    await waitFor('the unpulled layer to expire', () => !existsSync(layerLink(mirrorRoot, 'team/app', dropped!.digest)));
    await keepPulling;
    assert.ok(existsSync(layerLink(mirrorRoot, 'team/app', kept!.digest)), 'the layer pulled meanwhile is kept');
    assert.ok(!existsSync(layerLink(mirrorRoot, 'team/app', config!.digest)), 'the config expired too');
    assert.ok(!existsSync(blobData(mirrorRoot, dropped!.digest)), 'a pure mirror deletes expired data, as Distribution');
    await waitFor('the manifest to expire', () => !existsSync(revisionLink(mirrorRoot, 'team/app', img.manifestDigest)));

    const before = front.count('GET', `/blobs/${dropped!.digest}`);
    await pullImage(mirror.url, 'team/app', 'v1');
    assert.equal(front.count('GET', `/blobs/${dropped!.digest}`), before + 1, 'fetched again after expiry');
    await mirror.close();
    mirror = undefined;
  });

  it('keeps the expiry state in /scheduler-state.json across restarts', async () => {
    mirror = await start('2s');
    await pullImage(mirror.url, 'team/app', 'v1');
    await mirror.close();
    mirror = undefined;
    const state = JSON.parse(readFileSync(`${mirrorRoot}/scheduler-state.json`, 'utf8')) as Record<string, { Key: string; ExpiryData: string; EntryType: number }>;
    const key = `team/app@${img.manifestDigest}`;
    assert.equal(state[key]?.Key, key);
    assert.equal(state[key]?.EntryType, 1, 'manifest entries are type 1');
    assert.equal(state[`team/app@${img.blobs[1]!.digest}`]?.EntryType, 0, 'blob entries are type 0');
    assert.ok(Date.parse(state[key]!.ExpiryData) > Date.now());

    // Down while the content expires; the restarted mirror removes it at once.
    await waitFor('the ttl to pass', () => Date.now() > Date.parse(state[key]!.ExpiryData) + 200);
    mirror = await start('2s');
    assert.ok(!existsSync(revisionLink(mirrorRoot, 'team/app', img.manifestDigest)));
    assert.ok(!existsSync(layerLink(mirrorRoot, 'team/app', img.blobs[1]!.digest)));
    await mirror.close();
    mirror = undefined;
  });

  it('reads a state file written by Distribution (nanosecond times, other offsets)', async () => {
    mirror = await start('1h');
    await pullImage(mirror.url, 'team/app', 'v1');
    await mirror.close();
    mirror = undefined;
    const layer = img.blobs[1]!.digest;
    const state = {
      [`team/app@${layer}`]: { Key: `team/app@${layer}`, ExpiryData: '2020-01-02T03:04:05.123456789+01:00', EntryType: 0 },
      [`team/app@${img.manifestDigest}`]: { Key: `team/app@${img.manifestDigest}`, ExpiryData: '2999-01-02T03:04:05.123456789Z', EntryType: 1 },
    };
    writeFileSync(`${mirrorRoot}/scheduler-state.json`, JSON.stringify(state));
    mirror = await start('1h');
    assert.ok(!existsSync(layerLink(mirrorRoot, 'team/app', layer)), 'expired entry applied');
    assert.ok(existsSync(revisionLink(mirrorRoot, 'team/app', img.manifestDigest)), 'future entry kept');
  });
});
