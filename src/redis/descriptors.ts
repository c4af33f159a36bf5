import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SharedBlobDescriptors } from '../storage/blobs.js';

/**
 * `storage.cache.blobdescriptor: redis`: blob descriptors in Redis, shared by every instance, with
 * Distribution's key names — a hash `blobs::<digest>` {digest, length} per blob, and a set
 * `repository::<name>::blobs` of the digests a repository links. Deletes (unlink, repository
 * delete, garbage collection, a blob found missing) remove the entries, so an instance never
 * answers from Redis for a blob another instance deleted. Redis trouble is logged and treated
 * as a miss: requests fall back to storage.
 */
export class RedisBlobDescriptors implements SharedBlobDescriptors {
  private lastError = 0;

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
  ) {}

  private async guard<T>(fallback: T, task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (err) {
      if (Date.now() - this.lastError > 10_000) {
        this.lastError = Date.now();
        this.logger.warn({ err }, 'redis blob descriptor cache unavailable; reading storage');
      }
      return fallback;
    }
  }

  size(digest: string): Promise<number | undefined> {
    return this.guard(undefined, async () => {
      const v = await this.redis.hget(`blobs::${digest}`, 'length');
      return v === null ? undefined : Number(v);
    });
  }

  setSize(digest: string, size: number): Promise<void> {
    return this.guard(undefined, async () => {
      await this.redis.hset(`blobs::${digest}`, 'digest', digest, 'length', String(size));
    });
  }

  forget(digest: string): Promise<void> {
    return this.guard(undefined, async () => {
      await this.redis.del(`blobs::${digest}`);
    });
  }

  linked(repository: string, digest: string): Promise<boolean> {
    return this.guard(false, async () => (await this.redis.sismember(`repository::${repository}::blobs`, digest)) === 1);
  }

  setLinked(repository: string, digest: string): Promise<void> {
    return this.guard(undefined, async () => {
      await this.redis.sadd(`repository::${repository}::blobs`, digest);
    });
  }

  unlink(repository: string, digest: string): Promise<void> {
    return this.guard(undefined, async () => {
      await this.redis.srem(`repository::${repository}::blobs`, digest);
    });
  }

  forgetRepository(repository: string): Promise<void> {
    return this.guard(undefined, async () => {
      await this.redis.del(`repository::${repository}::blobs`);
    });
  }
}
