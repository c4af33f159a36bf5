/**
 * Object store outage: Berth on a Ceph RGW of its own whose gateway (radosgw) is killed in the
 * middle of pushes and pulls, then started again. Requests in flight and new ones end within a
 * bounded time, with 503 UNAVAILABLE where an answer can still be sent; an upload cut by the
 * outage resumes afterwards from the Range the registry reports, or, left alone, is purged with
 * its multipart upload; everything acknowledged before the outage pulls whole afterwards.
 * Slow store: a relay that holds every byte stands in for a store that stops answering; requests
 * end at storage.s3.requesttimeout × the SDK's attempts, and work again once it answers.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { s3RegistryYaml } from '../helpers/s3.js';
import { blob, digest, imageConfig, ociManifest, random, repoName } from '../helpers/content.js';
import { assertError, pushBlob, pushBlobs, pushImage, startUpload } from '../helpers/push.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import { purgeUploads } from '../../src/storage/purge.js';
import { startGateway, type Gateway } from './gateway.js';
import { Relay } from './relay.js';
import { until, within } from './bounded.js';
import { answeredUnavailable, OCTETS, pullsWhole, resumeUpload, silentStoreAnswered, slowPull } from './outage.js';

const MIB = 1024 * 1024;

let gw: Gateway;
before(async () => {
  gw = await startGateway();
});
after(async () => {
  await gw?.stop();
});

function params(bucket: string, endpoint: string, requesttimeout: number): Record<string, unknown> {
  return {
    region: gw.env.S3_REGION, regionendpoint: endpoint, forcepathstyle: true, bucket,
    accesskey: gw.env.S3_ACCESS_KEY, secretkey: gw.env.S3_SECRET_KEY, requesttimeout,
  };
}

/** Blob pulls go through Berth (not redirected to the store), the case where a pull is cut mid-body. */
const THROUGH_BERTH = ['  redirect:', '    disable: true'];

describe('object store outage (Ceph RGW gateway killed and started again)', () => {
  let reg: Registry;
  let bucket: string;
  before(async () => {
    bucket = await gw.bucket();
    reg = await startRegistry({ yaml: s3RegistryYaml(params(bucket, gw.env.S3_ENDPOINT, 5000), { storage: THROUGH_BERTH }) });
  });
  after(async () => {
    await reg?.stop();
  });

  it('answers 503 within a bounded time during the outage, resumes uploads after it, and keeps everything acknowledged', async () => {
    const repo = repoName('outage');
    const image = await pushImage(reg, repo, 'v1', { layers: 2, layerSize: 256 * 1024 });
    const big = blob(random(12 * MIB));
    await pushBlob(reg, repo, big.data, big.digest);

    // An upload with a first chunk stored, whose second chunk is on the wire when the store goes.
    const resumed = random(12 * MIB);
    const { location } = await startUpload(reg, repo);
    const first = await reg.req('PATCH', location, { body: resumed.subarray(0, 6 * MIB), headers: { ...OCTETS, 'Content-Range': `0-${6 * MIB - 1}` } });
    assert.equal(first.status, 202);
    const next = new URL(first.header('location')!, reg.url).toString();
    const body = new PassThrough();
    body.write(resumed.subarray(6 * MIB, 7 * MIB));
    const cut = reg.req('PATCH', next, { body, headers: { ...OCTETS, 'Content-Range': `${6 * MIB}-${resumed.length - 1}`, 'Content-Length': 6 * MIB }, allowServerError: true });
    // An upload that the outage ends and nobody comes back for, with a multipart upload begun in the store.
    const abandoned = await startUpload(reg, repo);
    const abandonedId = new URL(abandoned.location).pathname.split('/').at(-1)!;
    const body2 = new PassThrough();
    // More than one 10 MiB part reaches the store, with the block still filling (up to 4 MiB) held back.
    body2.write(random(15 * MIB));
    const cut2 = reg.req('PATCH', abandoned.location, { body: body2, headers: OCTETS, allowServerError: true });
    const s3 = gw.client();
    await until(30_000, 'a multipart upload is begun', async () => {
      const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (r.Uploads ?? []).some((u) => u.Key?.includes(abandonedId));
    });
    s3.destroy();
    // A manifest whose blobs are stored, pushed during the outage.
    const config2 = imageConfig();
    const layer2 = blob(random(1024));
    await pushBlobs(reg, repo, [config2, layer2]);
    const second = ociManifest({ config: config2.descriptor, layers: [layer2.descriptor] });
    // A pull in the middle of a blob.
    const pull = slowPull(reg, `/v2/${repo}/blobs/${big.digest}`);
    await pull.started;

    await gw.stopGateway();
    const outageStarted = Date.now();
    body.end(resumed.subarray(7 * MIB));
    body2.end(random(10 * MIB));
    const cutRes = await within(30_000, cut, 'the PATCH cut by the outage');
    assertError(cutRes, 503, 'UNAVAILABLE', 'the PATCH cut by the outage');
    await within(30_000, cut2, 'the abandoned PATCH').catch(() => undefined);
    const pulled = await within(30_000, pull.finish(), 'the pull cut by the outage');
    // Either the bytes were already on their way, or the pull ends short: never a "complete" wrong blob.
    if (pulled.complete) assert.equal(digest(pulled.body), big.digest, 'a pull that completes is whole');

    // New requests during the outage: a clear 503 each, within a bound (no hang).
    await answeredUnavailable(reg, repo, { blob: image.layers[0]!.digest, manifest: second, upload: next, boundMs: 20_000, names: /storage|s3/i });
    assert.ok(Date.now() - outageStarted < 120_000);

    await gw.startGateway();
    // Service comes back by itself: no restart of Berth.
    await until(30_000, 'Berth serves again', async () => (await reg.req('GET', `/v2/${repo}/blobs/${image.config.digest}`, { allowServerError: true })).status === 200, 200);

    // The cut upload resumes from where the registry says it stands.
    await resumeUpload(reg, repo, next, resumed);

    // Everything acknowledged before the outage is intact; writes refused during it can be made now.
    await pullsWhole(reg, repo, 'v1', image);
    const bigAgain = await reg.req('GET', `/v2/${repo}/blobs/${big.digest}`);
    assert.equal(digest(bigAgain.body), big.digest);
    assert.equal((await reg.req('PUT', `/v2/${repo}/manifests/v2`, { body: second.bytes, headers: { 'Content-Type': second.mediaType } })).status, 201);

    // The abandoned upload goes with its multipart upload once purged; nothing else is pending.
    const driver = await createDriver('s3', params(bucket, gw.env.S3_ENDPOINT, 5000));
    try {
      const purged = await purgeUploads(driver, { olderThan: new Date(Date.now() + 60_000), dryRun: false });
      assert.ok(purged.purged.some((p) => p.endsWith(abandonedId)), 'the abandoned upload is purged');
    } finally {
      await driver.close?.();
    }
    const c = gw.client();
    try {
      const pending = await c.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.deepEqual((pending.Uploads ?? []).map((u) => u.Key), [], 'no multipart upload is left pending');
    } finally {
      c.destroy();
    }
  });
});

describe('slow object store (a relay that holds every byte)', () => {
  const REQUEST_TIMEOUT = 1000;
  let reg: Registry;
  let relay: Relay;
  before(async () => {
    relay = await Relay.start(gw.port);
    const bucket = await gw.bucket();
    reg = await startRegistry({ yaml: s3RegistryYaml(params(bucket, `http://127.0.0.1:${relay.port}`, REQUEST_TIMEOUT), { storage: THROUGH_BERTH }) });
  });
  after(async () => {
    await reg?.stop();
    await relay?.close();
  });

  it('ends requests at the configured timeout with 503, lets go of the store connections, and serves again once the store answers', async () => {
    const repo = repoName('slow');
    const image = await pushImage(reg, repo, 'v1', { layerSize: 64 * 1024 });

    await silentStoreAnswered(reg, relay, repo, image, REQUEST_TIMEOUT, /s3/);
  });
});
