import { ConfigError, loadConfigFile } from '../config/load.js';
import { formatSize } from '../config/size.js';
import { createDriver } from '../storage/driver/factory.js';
import { QuotaUsage } from '../policy/usage.js';
import { exitOnOneLineErrors } from './common/one-line-errors.js';

/**
 * `berth quota CONFIG [--json]`: each berth.quotas rule with its limit and what the layout holds
 * against it now (read as a server reads it at start: docs/policy.md). Exits 1 when the
 * configuration has no quotas or cannot be read.
 */
export async function quota(file: string, options: { json?: boolean }): Promise<void> {
  await exitOnOneLineErrors([ConfigError], async () => {
    const { config, warnings } = await loadConfigFile(file, process.env);
    for (const warning of warnings) process.stderr.write(`berth: ${warning}\n`);
    if (!config.quotas?.length) throw new ConfigError('berth.quotas: no quota is configured');
    const driver = await createDriver(config.storage.driver, config.storage.parameters);
    try {
      const usage = new QuotaUsage(config.quotas, driver);
      await usage.load();
      const report = usage.report();
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      for (const rule of report) {
        const { limit } = rule;
        process.stdout.write(`${rule.description}: ${limit === undefined ? 'no limit (measured only)' : `limit ${formatSize(limit)} (${limit} bytes)`}\n`);
        if (rule.usage.length === 0) process.stdout.write('  no repository matches yet\n');
        for (const u of rule.usage) {
          const percent = limit ? ` ${((100 * u.used) / limit).toFixed(1)}%` : '';
          process.stdout.write(`  ${u.repository ?? 'shared'}: ${formatSize(u.used)} (${u.used} bytes)${percent}\n`);
        }
      }
    } finally {
      await driver.close?.();
    }
  });
}
