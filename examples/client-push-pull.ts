// The client against a registry: push a blob and a manifest under a tag, resolve the tag, read
// the blob back (verified against its digest while it streams), list tags, delete.
import assert from 'node:assert/strict';
import { startRegistry } from 'berth';
import { MediaTypes, NotFoundError, Registry, digestOf } from 'berth/client';

const server = await startRegistry({ config: { storage: { inmemory: {}, delete: { enabled: true } } } });
try {
  // A loopback host is reached over plain http; any other over https unless told otherwise.
  const registry = new Registry(`127.0.0.1:${server.port}`);
  const repo = registry.repository('demo/notes');

  const note = Buffer.from('remember the milk\n');
  const layer = await repo.uploadBlob(note); // digest computed while the content streams
  const config = Buffer.from('{}');
  await repo.uploadBlob(config, { digest: digestOf(config), size: config.length });

  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: 'text/plain',
    config: { mediaType: MediaTypes.ociEmpty, digest: digestOf(config).value, size: config.length },
    layers: [{ mediaType: 'text/plain', digest: layer.digest.value, size: layer.size }],
  }));
  const pushed = await repo.pushManifest(manifest, { mediaType: MediaTypes.ociManifest, tag: 'v1' });

  const resolved = await repo.resolve('v1'); // HEAD: the descriptor without the bytes
  assert.equal(resolved.digest.value, pushed.digest.value);

  const chunks: Buffer[] = [];
  for await (const chunk of await repo.fetchBlob({ mediaType: 'text/plain', ...layer })) chunks.push(chunk);
  assert.equal(Buffer.concat(chunks).toString(), 'remember the milk\n');

  const tags: string[] = [];
  for await (const tag of repo.tags()) tags.push(tag); // follows Link from page to page
  assert.deepEqual(tags, ['v1']);

  await repo.deleteManifest(pushed);
  await assert.rejects(repo.fetchManifest('v1'), (err) => err instanceof NotFoundError && err.code === 'MANIFEST_UNKNOWN');
  console.log(`pushed and read back ${pushed.digest.value}`);
} finally {
  await server.close();
}
