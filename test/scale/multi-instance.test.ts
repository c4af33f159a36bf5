import { after, before, describe } from 'node:test';
import { s3RegistryYaml, startS3, type S3Server } from '../helpers/s3.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startChildRegistry, type Registry } from '../helpers/registry.js';
import { multiInstanceScenarios } from './multi-instance.scenarios.js';

/**
 * Three Berth processes on one bucket and one Redis, with one http.secret, used round-robin:
 * they must behave as one registry (docs/deployment.md). The first runs two workers, so that
 * redis carries changes between workers and between instances at once.
 */
let s3: S3Server;
let redis: RedisServer;
let bucket: string;
const instances: Registry[] = [];

function yaml(secret: string): string {
  const p = s3.params(bucket, { chunksize: 5 * 1024 * 1024 });
  return s3RegistryYaml(p, {
    secret,
    storage: ['  delete:', '    enabled: true', '  cache:', '    blobdescriptor: redis'],
    top: ['redis:', `  addr: ${redis.addr}`, '  dialtimeout: 5s'],
  });
}

before(async () => {
  [s3, redis] = await Promise.all([startS3(), startRedis()]);
  bucket = await s3.bucket();
  for (let i = 0; i < 3; i++) {
    const started = await startChildRegistry({ yaml: yaml('one-shared-secret'), env: { REGISTRY_BERTH_WORKERS: i === 0 ? '2' : '1' } });
    // The workers of the first take its connections in turn.
    instances.push(i === 0 ? { ...started, req: (m, p, o) => started.req(m, p, { ...o, fresh: true }) } : started);
  }
});
after(async () => {
  for (const r of instances) await r.stop().catch(() => undefined);
  await redis?.stop();
  await s3?.stop();
});

describe('three instances, one bucket, one redis', () => {
  multiInstanceScenarios({ instances: () => instances, redis: () => redis, s3: () => s3 });
});
