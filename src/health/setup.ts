import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { StorageDriver } from '../storage/driver/types.js';
import { fileCheck, httpCheck, storageDriverCheck, tcpCheck } from './checks.js';
import { HealthChecks } from './registry.js';
import { redactUrl } from '../notifications/notifier.js';

/**
 * The checks named in `health`, under Distribution's names: `storagedriver_<driver>`, the file
 * path, the URI, the address. Always returns a HealthChecks (with no checks it stays healthy,
 * and /debug/health/down still works).
 */
export function startHealthChecks(config: Config, driver: StorageDriver, log: Logger): HealthChecks {
  const health = new HealthChecks(log);
  const h = config.health;
  if (!h) return health;
  if (h.storagedriver.enabled) {
    const readonly = config.storage.maintenance.readonly.enabled;
    health.register(`storagedriver_${config.storage.driver}`, storageDriverCheck(driver, { readonly }), h.storagedriver.intervalMs, h.storagedriver.threshold);
  }
  for (const f of h.file) health.register(f.file, fileCheck(f.file), f.intervalMs);
  // A URI with credentials in it is shown (in /debug/health and the log) without them.
  for (const c of h.http) health.register(redactUrl(c.uri), httpCheck(c.uri, c.statuscode, c.timeoutMs, c.headers), c.intervalMs, c.threshold);
  for (const c of h.tcp) health.register(c.addr, tcpCheck(c.addr, c.timeoutMs), c.intervalMs, c.threshold);
  return health;
}
