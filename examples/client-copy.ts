// copy(): an image from a registry into an OCI layout directory (the layout skopeo and umoci
// use) and on into another repository, with progress hooks and a time limit.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from 'berth';
import { MediaTypes, MemoryStore, OciLayout, copy, digestOf, type Descriptor } from 'berth/client';

// Some content to start from: a tiny image built in memory.
const memory = new MemoryStore();
const put = async (mediaType: string, data: Buffer): Promise<Descriptor> => {
  const desc = { mediaType, digest: digestOf(data), size: data.length };
  await memory.push(desc, data);
  return desc;
};
const layer = await put('application/vnd.oci.image.layer.v1.tar', Buffer.alloc(256 * 1024, 1));
const config = await put('application/vnd.oci.image.config.v1+json', Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'));
const json = (d: Descriptor) => ({ mediaType: d.mediaType, digest: d.digest.value, size: d.size });
const image = await put(MediaTypes.ociManifest, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: json(config), layers: [json(layer)] })));
await memory.tag(image, 'v1');

const server = await startRegistry();
const dir = await mkdtemp(join(tmpdir(), 'berth-client-example-'));
try {
  const host = `127.0.0.1:${server.port}`;
  // Any target with a reference, or references as strings in the CLI's grammar.
  await copy({ target: memory, reference: 'v1' }, `${host}/demo/app:v1`);

  let bytes = 0;
  const result = await copy(`${host}/demo/app:v1`, `oci:${dir}:v1`, {
    concurrency: 4,
    signal: AbortSignal.timeout(60_000),
    onProgress: (p) => { bytes = p.totalBytes; },
    onCopied: (d) => console.log(`copied ${d.mediaType} ${d.digest.value}`),
  });
  assert.equal(result.descriptor.digest.value, image.digest.value);
  assert.equal(bytes, layer.size + config.size + image.size);
  assert.equal((await new OciLayout(dir).resolve('v1')).digest.value, image.digest.value);

  // Within one registry, blobs are mounted rather than copied; what is there already is skipped.
  const again = await copy(`oci:${dir}:v1`, `${host}/demo/app:v2`);
  assert.equal(again.skipped, 1); // the manifest was there: nothing under it was looked at
  const mounted = await copy(`${host}/demo/app:v1`, `${host}/other/app:v1`);
  assert.equal(mounted.mounted, 2);
  console.log(`copied ${result.bytes} bytes; ${mounted.mounted} blobs mounted`);
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
