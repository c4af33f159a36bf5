import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type Clock, systemClock } from '../clock.js';
import { RegistryError } from '../oci/errors.js';
import { acrossProcesses, type TagLocks } from '../storage/tag-locks.js';

/**
 * Runs a background job (garbage collection, upload purging) only while holding its lock; resolves
 * false, without running it, when another instance holds it. Without redis there is one instance
 * and the job always runs.
 */
export type JobLock = (job: string, task: () => Promise<void>) => Promise<boolean>;

export const runAlways: JobLock = async (_job, task) => {
  await task();
  return true;
};

// Renew and release only the lock this holder took (its token), never one a later holder took after expiry.
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * A lock per job name in redis (`berth:lock:<job>`): taken with SET NX PX, renewed every third of
 * its ttl while the job runs, released at the end. A holder that dies stops renewing, so the lock
 * frees itself after `ttlMs` (redis's own clock; `clock` only times the renewals).
 */
export function redisJobLock(client: Redis, ttlMs = 30_000, clock: Clock = systemClock): JobLock {
  return async (job, task) => {
    const key = `berth:lock:${job}`;
    const token = randomUUID();
    if ((await client.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return false;
    const stopRenewing = clock.every(ttlMs / 3, () => void client.eval(RENEW, 1, key, token, String(ttlMs)).catch(() => undefined));
    try {
      await task();
    } finally {
      stopRenewing();
      await client.eval(RELEASE, 1, key, token).catch(() => undefined);
    }
    return true;
  };
}

/**
 * Tag locks shared by every instance (src/storage/tag-locks.ts): `berth:lock:tag:<name>:<tag>`,
 * taken as job locks are (SET NX PX, renewed while held, released by token) but waited for:
 * retried every few milliseconds, up to `waitMs`, after which the write is refused with 503
 * UNAVAILABLE rather than left hanging. A holder that dies frees the tag after `ttlMs`.
 */
export function redisTagLocks(client: Redis, clock: Clock = systemClock, ttlMs = 10_000, waitMs = 15_000): TagLocks {
  return acrossProcesses(async (name, tag) => {
    const key = `berth:lock:tag:${name}:${tag}`;
    const token = randomUUID();
    const deadline = Date.now() + waitMs;
    for (let pause = 2; (await client.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK'; pause = Math.min(pause * 2, 50)) {
      if (Date.now() > deadline) throw new RegistryError('UNAVAILABLE', `tag ${tag} of ${name} is being written by another instance (redis lock ${key} held over ${waitMs / 1000} s); try again`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    const stopRenewing = clock.every(ttlMs / 3, () => void client.eval(RENEW, 1, key, token, String(ttlMs)).catch(() => undefined));
    return {
      release: () => {
        stopRenewing();
        void client.eval(RELEASE, 1, key, token).catch(() => undefined);
      },
    };
  });
}
