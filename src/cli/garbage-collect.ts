import { ConfigError, loadConfigFile } from '../config/load.js';
import { createDriver } from '../storage/driver/factory.js';
import { reportingDriver } from '../storage/changes.js';
import { collectGarbage, GarbageCollectionError } from '../gc/collector.js';
import { gcConfig } from '../gc/defaults.js';
import { pino } from 'pino';
import { exitOnOneLineErrors } from './common/one-line-errors.js';

const silentLogger = pino({ level: 'silent' });

export interface GarbageCollectOptions {
  dryRun?: boolean;
  deleteUntagged?: boolean;
  quiet?: boolean;
}

/**
 * `berth garbage-collect CONFIG [-d] [-m] [-q]`: Distribution's command, with its output. Safe
 * next to a running server within the limits written in docs/gc.md; the grace period is
 * berth.gc.grace (default 1h). With redis configured it takes the instances' GC lock and
 * announces each deletion on their invalidation channel. A configuration problem or an unreadable manifest prints one line
 * to stderr and exits 1 (nothing is deleted in the second case).
 */
export async function garbageCollect(file: string, options: GarbageCollectOptions): Promise<void> {
  await exitOnOneLineErrors([ConfigError, GarbageCollectionError], async () => {
    const { config, warnings } = await loadConfigFile(file, process.env);
    for (const warning of warnings) process.stderr.write(`berth: ${warning}\n`);
    const driver = await createDriver(config.storage.driver, config.storage.parameters);
    // With redis configured, the command takes the same lock as instances' scheduled runs.
    const redis = config.redis ? await import('../redis/client.js') : undefined;
    const settings = redis?.parseRedisSettings(config.redis!);
    const client = redis && settings ? redis.createRedis(settings, silentLogger, 'gc') : undefined;
    try {
      if (redis && client && settings) await redis.connected(client, settings.dialTimeoutMs);
      const lock = client ? (await import('../redis/lock.js')).redisJobLock(client) : undefined;
      // Running instances are told what it deletes, as they tell each other (their caches and quota usage follow).
      const bus = client ? new (await import('../redis/invalidation.js')).InvalidationBus(client, client, silentLogger) : undefined;
      const collect = async () => {
        await collectGarbage(bus ? reportingDriver(driver, (changes) => bus.publish(...changes)) : driver, {
          dryRun: options.dryRun ?? false,
          deleteUntagged: options.deleteUntagged ?? false,
          quiet: options.quiet ?? false,
          graceMs: gcConfig(config).graceMs,
          emit: (line) => process.stdout.write(`${line}\n`),
        });
      };
      if (lock && !(await lock('gc', collect))) {
        process.stderr.write('berth: another instance is collecting garbage (redis lock berth:lock:gc); try again later\n');
        process.exitCode = 1;
      } else if (!lock) await collect();
    } finally {
      client?.disconnect();
      await driver.close?.();
    }
  });
}
