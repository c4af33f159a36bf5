import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { connected, createRedis, parseRedisSettings } from './client.js';
import { RedisBlobDescriptors } from './descriptors.js';
import { InvalidationBus } from './invalidation.js';

export { InvalidationBus } from './invalidation.js';
export { RedisBlobDescriptors } from './descriptors.js';

/** What the `redis` section gives a server: a command connection, the invalidation bus, and the descriptor cache when chosen. */
export interface SharedState {
  client: Redis;
  bus: InvalidationBus;
  descriptors: RedisBlobDescriptors | undefined;
  close(): Promise<void>;
}

/** Connects to Redis (waiting for the first connection, so a wrong address stops the start). */
export async function startShared(config: Config, logger: Logger): Promise<SharedState | undefined> {
  if (!config.redis) return undefined;
  let settings;
  try {
    settings = parseRedisSettings(config.redis);
  } catch (err) {
    throw new Error((err as Error).message);
  }
  const client = createRedis(settings, logger, 'commands');
  const subscriber = createRedis(settings, logger, 'invalidation');
  const close = async () => {
    client.disconnect();
    subscriber.disconnect();
  };
  try {
    // Without an offline queue a command needs the connection up: wait for it (dialtimeout).
    await Promise.all([connected(client, settings.dialTimeoutMs), connected(subscriber, settings.dialTimeoutMs)]);
    await Promise.all([client.ping(), subscriber.ping()]);
  } catch (err) {
    await close();
    throw new Error(`redis: cannot reach ${settings.host}:${settings.port}: ${(err as Error).message}`);
  }
  const bus = new InvalidationBus(client, subscriber, logger);
  const descriptors = config.storage.cache.blobdescriptor === 'redis' ? new RedisBlobDescriptors(client, logger) : undefined;
  logger.info({ addr: `${settings.host}:${settings.port}`, db: settings.db, blobdescriptor: Boolean(descriptors) }, 'redis connected');
  return { client, bus, descriptors, close };
}
