import type { Config, GcConfig } from '../config/types.js';

/** berth.gc when the configuration does not say (docs/gc.md). */
export const DEFAULT_GC: GcConfig = { enabled: false, intervalMs: 24 * 3600_000, graceMs: 3600_000, deleteUntagged: false, dryrun: false };

export function gcConfig(config: Config): GcConfig {
  return config.gc ?? DEFAULT_GC;
}
