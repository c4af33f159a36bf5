import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { JobLock } from '../redis/lock.js';
import type { Registry } from '../storage/registry.js';
import { describeRemoval, runRetention, type RecordsReader, type RetentionReport } from './retention-run.js';

export interface ScheduledRetention {
  /** The last run this instance made (undefined before the first, or when another instance ran it). */
  readonly last: RetentionReport | undefined;
  /** Resolves when the run in progress, if any, has finished. */
  settled(): Promise<void>;
  /** Stops the timer and waits for a run in progress to finish its current removal. */
  stop(): Promise<void>;
}

/**
 * berth.retention.interval in `serve`: a run every interval (the first one interval after start),
 * one at a time across instances under the garbage collector's lock (`gc`), so retention and
 * collection never overlap. Each removal and each run is logged; a failed run is logged and the
 * next one still scheduled. Off with interval 0, and in read-only mode.
 */
export function scheduleRetention(config: Config, registry: Registry, records: RecordsReader, logger: Logger, lock: JobLock, clock: Clock): ScheduledRetention {
  const retention = config.retention;
  let running: Promise<void> | undefined;
  const scheduled: { last: RetentionReport | undefined; settled(): Promise<void>; stop(): Promise<void> } = {
    last: undefined,
    settled: async () => running,
    stop: async () => undefined,
  };
  if (!retention || retention.intervalMs <= 0 || config.storage.maintenance.readonly.enabled) return scheduled;
  const abort = new AbortController();
  const once = async () => {
    const report = await runRetention(retention, registry, {
      dryRun: retention.dryrun,
      clock,
      records,
      signal: abort.signal,
      emit: (removal) => logger.info({ repository: removal.repository, removed: removal.removed }, describeRemoval(removal, retention.dryrun)),
    });
    scheduled.last = report;
    const removed = report.removals.filter((r) => r.removed).length;
    for (const s of report.skipped) logger.warn({ repository: s.repository }, `retention left the repository alone: ${s.reason}`);
    logger.info({ repositories: report.repositories, decided: report.removals.length, removed, dryrun: retention.dryrun }, 'retention finished');
  };
  const run = () => {
    if (running) return;
    running = (async () => {
      try {
        if (!(await lock('gc', once))) logger.info('retention skipped: another instance is running retention or garbage collection');
      } catch (err) {
        logger.error({ err }, 'retention failed');
      } finally {
        running = undefined;
      }
    })();
  };
  const stopTimer = clock.every(retention.intervalMs, run);
  scheduled.stop = async () => {
    stopTimer();
    abort.abort();
    await running;
  };
  return scheduled;
}
