import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { s3RegistryYaml, startS3, type S3Server } from '../helpers/s3.js';
import { startRegistry, type Registry } from '../helpers/registry.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import type { StorageDriver } from '../../src/storage/driver/types.js';
import { CATALOG_SNAPSHOT } from '../../src/storage/paths.js';

/**
 * On object stores a process listens once it has warmed up (read the saved catalog, listed once),
 * waiting 5 s at most (src/api/server.ts): its first requests do not pay the store client's
 * first-use costs, and a store that does not answer does not keep it from starting.
 */
let s3: S3Server;
let bucket: string;
let driver: StorageDriver;

/** A TCP relay to the S3 server that holds back every answer while `held`. */
interface Relay {
  endpoint: string;
  release(): void;
  close(): Promise<void>;
}

async function relay(target: URL): Promise<Relay> {
  let held = true;
  const waiting: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (held) waiting.push(() => client.write(chunk));
      else client.write(chunk);
    });
    upstream.on('end', () => client.end());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    release() {
      held = false;
      for (const send of waiting.splice(0)) send();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function start(endpoint: string): Promise<Registry> {
  return startRegistry({
    yaml: s3RegistryYaml({ ...s3.params(bucket), regionendpoint: endpoint }, { secret: 'start-up-test' }),
  });
}

before(async () => {
  s3 = await startS3();
  bucket = await s3.bucket();
  driver = await createDriver('s3', s3.params(bucket));
  await driver.putContent(CATALOG_SNAPSHOT, Buffer.from(JSON.stringify({ repositories: ['alpha', 'team/beta'] })));
});
after(async () => {
  await driver?.close?.();
  await s3?.stop();
});

describe('start-up on an object store', () => {
  it('listens only once the store has answered its warm-up, then serves the saved catalog', async () => {
    const store = await relay(new URL(s3.endpoint));
    let listening = false;
    const starting = start(store.endpoint).then((r) => {
      listening = true;
      return r;
    });
    let registry: Registry | undefined;
    try {
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(listening, false, 'listening while the store has not answered');
      store.release();
      registry = await starting;
      const res = await registry.req('GET', '/v2/_catalog');
      assert.equal(res.status, 200);
      assert.deepEqual(res.json().repositories, ['alpha', 'team/beta']);
    } finally {
      store.release();
      await (registry ?? (await starting)).stop();
      await store.close();
    }
  });

  it('listens all the same when the store does not answer', async () => {
    const store = await relay(new URL(s3.endpoint));
    let registry: Registry | undefined;
    try {
      registry = await start(store.endpoint); // the store's answers stay held throughout
      assert.equal((await registry.req('GET', '/v2/')).status, 200);
    } finally {
      store.release();
      await registry?.stop();
      await store.close();
    }
  });
});
