// Expiry of cached content: entries in Distribution's /scheduler-state.json format, expiry after
// ttl, ttl refreshed by pulls, re-fetch after expiry, state surviving a restart, and a state file
// written the way Distribution writes it. The mirror runs on a clock the test moves (hours pass
// at once); only waiting for the files to go is real time.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../helpers/clock.js';
import { type Berth, Front, type Image, getBlob, pullImage, pushImage, startBerth, tempDir } from './helpers.js';
import { until as untilWithin } from '../helpers/wait.js';

const V2 = 'docker/registry/v2';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function layerLink(root: string, repo: string, digest: string): string {
  return `${root}/${V2}/repositories/${repo}/_layers/sha256/${digest.slice(7)}/link`;
}
function revisionLink(root: string, repo: string, digest: string): string {
  return `${root}/${V2}/repositories/${repo}/_manifests/revisions/sha256/${digest.slice(7)}/link`;
}
function blobData(root: string, digest: string): string {
  return `${root}/${V2}/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;
}

/** Polls every 100 ms; 15 s is a safety net, not a timing. */
const waitFor = (what: string, cond: () => boolean) => untilWithin(15_000, what, cond, 100);

describe('mirror expiry', () => {
  const tmp = tempDir('expiry');
  let upstream: Berth;
  let front: Front;
  let mirror: Berth | undefined;
  let img: Image;
  const mirrorRoot = `${tmp.dir}/mirror`;
  // The mirror's clock: content ages only when the test moves it.
  const start = (ttl: string, clock = new ManualClock()) => startBerth(mirrorRoot, `proxy:\n  remoteurl: ${front.url}\n  ttl: ${ttl}\n`, { clock });

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
    const clock = new ManualClock();
    mirror = await start('1h', clock);
    await pullImage(mirror.url, 'team/app', 'v1');
    const [config, kept, dropped] = img.blobs;
    // A client has every byte (Content-Length) a moment before the blob is verified and linked.
    await waitFor('the layer to be linked', () => existsSync(layerLink(mirrorRoot, 'team/app', dropped!.digest)));

    // 40 minutes on, one layer is pulled again: it now expires an hour after that.
    clock.advance(40 * MINUTE);
    assert.equal((await getBlob(mirror.url, 'team/app', kept!.digest)).status, 200);
    clock.advance(20 * MINUTE + 1000);
    // The manifest, the config and the unpulled layer expire (a pure mirror deletes expired data too, as Distribution).
    await waitFor('the unpulled content to expire', () =>
      [revisionLink(mirrorRoot, 'team/app', img.manifestDigest), layerLink(mirrorRoot, 'team/app', config!.digest), layerLink(mirrorRoot, 'team/app', dropped!.digest), blobData(mirrorRoot, dropped!.digest)].every((p) => !existsSync(p)),
    );
    assert.ok(existsSync(layerLink(mirrorRoot, 'team/app', kept!.digest)), 'the layer pulled meanwhile is kept');

    // An hour after its last pull the other layer goes too.
    clock.advance(40 * MINUTE);
    await waitFor('the pulled layer to expire', () => !existsSync(layerLink(mirrorRoot, 'team/app', kept!.digest)));

    const before = front.count('GET', `/blobs/${dropped!.digest}`);
    await pullImage(mirror.url, 'team/app', 'v1');
    assert.equal(front.count('GET', `/blobs/${dropped!.digest}`), before + 1, 'fetched again after expiry');
    await mirror.close();
    mirror = undefined;
  });

  it('keeps the expiry state in /scheduler-state.json across restarts', async () => {
    // The entries the first test left would run later than this mirror's (a pull never shortens one).
    rmSync(`${mirrorRoot}/scheduler-state.json`, { force: true });
    const clock = new ManualClock();
    mirror = await start('2h', clock);
    await pullImage(mirror.url, 'team/app', 'v1');
    await mirror.close();
    mirror = undefined;
    const state = JSON.parse(readFileSync(`${mirrorRoot}/scheduler-state.json`, 'utf8')) as Record<string, { Key: string; ExpiryData: string; EntryType: number }>;
    const key = `team/app@${img.manifestDigest}`;
    assert.deepEqual(state[key], { Key: key, ExpiryData: new Date(clock.now() + 2 * HOUR).toISOString(), EntryType: 1 }, 'manifest entries are type 1');
    assert.equal(state[`team/app@${img.blobs[1]!.digest}`]?.EntryType, 0, 'blob entries are type 0');

    // Down while the content expires: the mirror restarted three hours later removes it at once.
    mirror = await start('2h', new ManualClock(clock.now() + 3 * HOUR));
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
