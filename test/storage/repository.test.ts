import { Readable } from 'node:stream';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { parseDigest } from '../../src/oci/digest.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';
import { Mirror } from '../../src/proxy/mirror.js';
import { Registry } from '../../src/storage/registry.js';
import { pushBlobAt } from '../helpers/push.js';
import { startBerth, tempDir } from '../proxy/helpers.js';
import { runRepositorySuite, type RepositorySetup } from './repository-suite.js';

const policy = { skipReferenceChecks: false, urlsAllow: [], urlsDeny: [] };

/** A local registry on `driver`, seeded through its own write paths. */
function local(driver: StorageDriver, close: () => Promise<void>): RepositorySetup {
  const registry = new Registry(driver, { policy, metadataTtlMs: 1000 });
  return {
    repository: (name) => registry.repository(name),
    seed: async (name, { config, layer, manifest, tag }) => {
      const repo = registry.repository(name);
      for (const b of [config, layer]) await repo.uploads.putWhole(parseDigest(b.digest), Readable.from([b.data]));
      await repo.manifests.put(manifest.bytes, manifest.mediaType, { tag });
    },
    writable: true,
    close,
  };
}

runRepositorySuite('local (inmemory)', async () => local(await createDriver('inmemory', {}), async () => undefined));

// The filesystem driver reads blobs at positions (openRead).
runRepositorySuite('local (filesystem)', async () => {
  const root = tempDir('suite-local');
  return local(await createDriver('filesystem', { rootdirectory: root.dir }), async () => root.cleanup());
});

runRepositorySuite('mirrored (an upstream Berth over HTTP)', async () => {
  const upstreamDir = tempDir('suite-upstream');
  const upstream = await startBerth(upstreamDir.dir);
  const registry = new Registry(await createDriver('inmemory', {}), { policy, metadataTtlMs: 1000 });
  const { config } = parseConfig(['version: 0.1', 'storage:', '  inmemory: {}', 'proxy:', `  remoteurl: ${upstream.url}`].join('\n'), {});
  const mirror = new Mirror(config.proxy!, registry, pino({ level: 'silent' }));
  registry.mirror = mirror;
  return {
    repository: (name) => registry.repository(name),
    seed: async (name, { config: cfg, layer, manifest, tag }) => {
      for (const b of [cfg, layer]) await pushBlobAt(upstream.url, name, b.data);
      const put = await fetch(`${upstream.url}/v2/${name}/manifests/${tag}`, { method: 'PUT', body: new Uint8Array(manifest.bytes), headers: { 'content-type': manifest.mediaType } });
      if (put.status !== 201) throw new Error(`seeding the upstream: ${put.status} ${await put.text()}`);
    },
    writable: false,
    close: async () => {
      await mirror.close();
      await upstream.close();
      upstreamDir.cleanup();
    },
  };
});
