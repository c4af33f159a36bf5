import { pino } from 'pino';
import { systemClock } from '../clock.js';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { createDriver } from '../storage/driver/factory.js';
import { ReferrersTagKeeper } from '../storage/manifests/referrers-tags.js';
import { Registry } from '../storage/registry.js';
import type { StorageChange } from '../storage/changes.js';
import { PolicyRules } from '../policy/rules.js';
import { RedisRecords } from '../policy/records/redis-records.js';
import { StorageRecords } from '../policy/records/storage-records.js';
import { describeRemoval, runRetention } from '../policy/retention-run.js';
import { exitOnOneLineErrors } from './common/one-line-errors.js';

const silentLogger = pino({ level: 'silent' });

/**
 * `berth retention CONFIG [--dry-run] [--json]`: berth.retention run once (docs/policy.md), each
 * decision printed (repository, tag or digest, the rule that decided and why) or, with --json, the
 * whole report. With redis configured it takes the garbage collector's lock, reads the records
 * there, and tells running instances of each removal as they tell each other. Exits 1 on a
 * configuration problem, when retention is not configured, or when another instance holds the lock.
 */
export async function retention(file: string, options: { dryRun?: boolean; json?: boolean }): Promise<void> {
  await exitOnOneLineErrors([ConfigError], async () => {
    const { config, warnings } = await loadConfigFile(file, process.env);
    for (const warning of warnings) process.stderr.write(`berth: ${warning}\n`);
    if (!config.retention?.policies.length) throw new ConfigError('berth.retention.policies: no retention policy is configured');
    const retentionConfig = config.retention;
    const dryRun = options.dryRun === true || retentionConfig.dryrun;
    const shared = config.redis ? await (await import('../redis/index.js')).startShared(config, silentLogger) : undefined;
    const driver = await createDriver(config.storage.driver, config.storage.parameters);
    try {
      const registry = new Registry(driver, {
        metadataTtlMs: 0,
        ...(shared ? { announce: (changes: StorageChange[]) => shared.bus.publish(...changes) } : {}),
        policy: { skipReferenceChecks: true, urlsAllow: [], urlsDeny: [], referrersTags: config.referrers?.fallbackTags ? new ReferrersTagKeeper() : undefined },
      });
      registry.rules = new PolicyRules(config.immutableTags ?? [], undefined, retentionConfig.policies);
      if (shared) registry.tagLocks = (await import('../redis/lock.js')).redisTagLocks(shared.client);
      const records = shared ? new RedisRecords(shared.client) : new StorageRecords(registry.driver);
      const lock = shared ? (await import('../redis/lock.js')).redisJobLock(shared.client) : undefined;
      const once = async () => {
        const report = await runRetention(retentionConfig, registry, {
          dryRun,
          clock: systemClock,
          records,
          ...(options.json ? {} : { emit: (r) => void process.stdout.write(`${describeRemoval(r, dryRun)}\n`) }),
        });
        if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else {
          for (const s of report.skipped) process.stdout.write(`${s.repository}: left alone: ${s.reason}\n`);
          const removed = report.removals.filter((r) => r.removed).length;
          process.stdout.write(`${report.repositories} repositories, ${report.removals.length} decided, ${dryRun ? 'dry run: nothing removed' : `${removed} removed`}\n`);
        }
      };
      if (lock && !(await lock('gc', once))) {
        process.stderr.write('berth: another instance is running retention or garbage collection (redis lock berth:lock:gc); try again later\n');
        process.exitCode = 1;
      } else if (!lock) await once();
    } finally {
      await shared?.close();
      await driver.close?.();
    }
  });
}
