/**
 * Azure outage: Berth on azurite (the azure driver's test server), which is killed in the middle
 * of an upload and a pull, then started again on the same port and data. As with the S3 outage
 * (store-outage.test.ts): the cut request and every new one during the outage are answered 503
 * UNAVAILABLE within a bound, never 500 or a hang; service comes back by itself; the cut upload
 * resumes from the Range the registry reports; everything acknowledged before pulls whole.
 * Slow store: a relay that holds every byte between Berth and azurite stands in for a store that
 * accepts connections and never answers; requests end at `requesttimeout` with 503.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from '../helpers/azurite.js';
import { blob, digest, imageConfig, ociManifest, random, repoName } from '../helpers/content.js';
import { assertError, pushBlob, pushBlobs, pushImage, startUpload } from '../helpers/push.js';
import { until, within } from './bounded.js';
import { Relay } from './relay.js';
import { answeredUnavailable, OCTETS, pullsWhole, resumeUpload, silentStoreAnswered, slowPull } from './outage.js';

const MIB = 1024 * 1024;

function azureYaml(url: string, container: string, requestTimeout?: number): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  azure:',
    `    accountname: ${AZURITE_ACCOUNT}`,
    `    accountkey: ${AZURITE_KEY}`,
    `    container: ${container}`,
    `    serviceurl: ${url}`,
    ...(requestTimeout === undefined ? [] : [`    requesttimeout: ${requestTimeout}`]),
    '  delete:',
    '    enabled: true',
    // Blob pulls go through Berth (not redirected to the store), the case where a pull is cut mid-body.
    '  redirect:',
    '    disable: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    '  addr: {{addr}}',
    '',
  ].join('\n');
}

describe('azure outage (azurite killed and started again)', () => {
  let azurite: Azurite;
  let reg: Registry;
  before(async () => {
    azurite = await startAzurite();
    reg = await startRegistry({ yaml: azureYaml(azurite.url, await azurite.container()) });
  });
  after(async () => {
    await reg?.stop();
    await azurite?.stop();
  });

  it('answers 503 within a bounded time during the outage, resumes uploads after it, and keeps everything acknowledged', async () => {
    const repo = repoName('azure-outage');
    const image = await pushImage(reg, repo, 'v1', { layers: 2, layerSize: 256 * 1024 });
    const big = blob(random(6 * MIB));
    await pushBlob(reg, repo, big.data, big.digest);

    // An upload with a first chunk stored, whose second chunk is on the wire when the store goes.
    const resumed = random(10 * MIB);
    const { location } = await startUpload(reg, repo);
    const first = await reg.req('PATCH', location, { body: resumed.subarray(0, 5 * MIB), headers: { ...OCTETS, 'Content-Range': `0-${5 * MIB - 1}` } });
    assert.equal(first.status, 202);
    const next = new URL(first.header('location')!, reg.url).toString();
    // A manifest whose blobs are stored, pushed during the outage.
    const config2 = imageConfig();
    const layer2 = blob(random(1024));
    await pushBlobs(reg, repo, [config2, layer2]);
    const second = ociManifest({ config: config2.descriptor, layers: [layer2.descriptor] });
    // azurite saves its metadata every 5 s: what it acknowledged must be on its disk before it is
    // killed, or the test would see the emulator's loss, not Berth's (the link was written last).
    await azurite.saved(`${repo}/_layers/sha256/${layer2.digest.slice('sha256:'.length)}/link`);

    const body = new PassThrough();
    body.write(resumed.subarray(5 * MIB, 6 * MIB));
    const cut = reg.req('PATCH', next, { body, headers: { ...OCTETS, 'Content-Range': `${5 * MIB}-${resumed.length - 1}`, 'Content-Length': 5 * MIB }, allowServerError: true });
    const pull = slowPull(reg, `/v2/${repo}/blobs/${big.digest}`);
    await pull.started;

    await azurite.kill();
    const outageStarted = Date.now();
    body.end(resumed.subarray(6 * MIB));
    const cutRes = await within(30_000, cut, 'the PATCH cut by the outage');
    assertError(cutRes, 503, 'UNAVAILABLE', 'the PATCH cut by the outage');
    const pulled = await within(30_000, pull.finish(), 'the pull cut by the outage');
    if (pulled.complete) assert.equal(digest(pulled.body), big.digest, 'a pull that completes is whole');

    // New requests during the outage: a clear 503 each, within a bound (no hang).
    await answeredUnavailable(reg, repo, { blob: image.layers[0]!.digest, manifest: second, upload: next, boundMs: 20_000, names: /azure/ });
    assert.ok(Date.now() - outageStarted < 120_000);

    await azurite.start();
    // Service comes back by itself: no restart of Berth.
    await until(30_000, 'Berth serves again', async () => (await reg.req('GET', `/v2/${repo}/blobs/${image.config.digest}`, { allowServerError: true })).status === 200, 200);

    // The cut upload resumes from where the registry says it stands, its first chunk kept.
    assert.ok((await resumeUpload(reg, repo, next, resumed)) >= 5 * MIB, 'the first chunk is kept');

    // Everything acknowledged before the outage is intact; writes refused during it can be made now.
    await pullsWhole(reg, repo, 'v1', image);
    const bigAgain = await reg.req('GET', `/v2/${repo}/blobs/${big.digest}`);
    assert.equal(digest(bigAgain.body), big.digest);
    assert.equal((await reg.req('PUT', `/v2/${repo}/manifests/v2`, { body: second.bytes, headers: { 'Content-Type': second.mediaType } })).status, 201);
  });
});

describe('slow azure store (a relay that holds every byte)', () => {
  const REQUEST_TIMEOUT = 1000;
  let azurite: Azurite;
  let relay: Relay;
  let reg: Registry;
  before(async () => {
    azurite = await startAzurite();
    const store = new URL(azurite.url);
    relay = await Relay.start(Number(store.port));
    store.port = String(relay.port);
    reg = await startRegistry({ yaml: azureYaml(store.toString().replace(/\/$/, ''), await azurite.container(), REQUEST_TIMEOUT) });
  });
  after(async () => {
    await reg?.stop();
    await relay?.close();
    await azurite?.stop();
  });

  it('ends requests at requesttimeout with 503, lets go of the store connections, and serves again once the store answers', async () => {
    const repo = repoName('azure-slow');
    const image = await pushImage(reg, repo, 'v1', { layerSize: 64 * 1024 });

    await silentStoreAnswered(reg, relay, repo, image, REQUEST_TIMEOUT, /azure/);
  });
});
