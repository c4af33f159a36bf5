import os from 'node:os';
import { ConfigError } from '../config/errors.js';
import type { Config } from '../config/types.js';

/**
 * berth.workers: how many worker processes `berth serve` runs on its one listening socket.
 * `auto` (the default) is the CPUs available to the process (os.availableParallelism); `1` is a
 * single process with no primary, as before workers existed.
 */
export function workerCount(config: Config, cpus: () => number = os.availableParallelism): number {
  const v = config.berth?.workers;
  if (v === undefined || v === null || v === '' || v === 'auto') return Math.max(1, cpus());
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new ConfigError(`berth.workers: expected auto or a whole number from 1 to 1024, got ${JSON.stringify(v)}`);
  return n;
}
