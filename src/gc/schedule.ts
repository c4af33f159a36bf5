import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Registry } from '../storage/registry.js';
import { collectGarbage, type GcResult } from './collector.js';
import { gcConfig } from './defaults.js';
import { runAlways, type JobLock } from '../redis/lock.js';
import { type Clock, systemClock } from '../clock.js';

/**
 * How long the server remembers its uses of digests (BlobGuard.retentionMs): the collector's
 * grace period when it runs inside `serve` (in every worker, whichever runs it), else 0.
 */
export function gcGuardRetention(config: Config): number {
  const gc = gcConfig(config);
  return gc.enabled && !config.storage.maintenance.readonly.enabled ? Math.max(gc.graceMs, 1) : 0;
}

export interface ScheduledGc {
  /** Stops the timer and waits for a run in progress to finish its current deletion. */
  stop(): Promise<void>;
}

/**
 * berth.gc in `serve`: a collection every interval (the first one interval after start), one at a
 * time, in this process so that it sees the server's uses of blobs (docs/gc.md). Each run is
 * logged; failures are logged and the next run is still scheduled.
 */
export function scheduleGc(
  config: Config,
  registry: Registry,
  logger: Logger,
  onRun?: (result: GcResult, ms: number, dryRun: boolean) => void,
  lock: JobLock = runAlways,
  clock: Clock = systemClock,
): ScheduledGc {
  const gc = gcConfig(config);
  if (!gc.enabled || config.storage.maintenance.readonly.enabled) return { stop: async () => undefined };
  registry.blobs.guard.retentionMs = gcGuardRetention(config);
  const abort = new AbortController();
  const collect = async () => {
    const started = performance.now();
    const result = await collectGarbage(registry.driver, {
      dryRun: gc.dryrun,
      deleteUntagged: gc.deleteUntagged,
      graceMs: gc.graceMs,
      registry,
      signal: abort.signal,
    });
    const ms = Math.round(performance.now() - started);
    onRun?.(result, ms, gc.dryrun);
    logger.info(
      {
        marked: result.marked,
        blobsDeleted: result.blobsDeleted.length,
        bytesDeleted: result.bytesDeleted,
        manifestsDeleted: result.manifestsDeleted.length,
        eligible: result.blobsEligible.length,
        keptYoung: result.keptYoung,
        keptInUse: result.keptInUse,
        dryrun: gc.dryrun,
        ms,
      },
      'garbage collection finished',
    );
  };
  let running: Promise<void> | undefined;
  const run = () => {
    if (running) return;
    running = (async () => {
      try {
        // With several instances on one storage (redis configured), one collects at a time.
        if (!(await lock('gc', collect))) logger.info('garbage collection skipped: another instance is running it');
      } catch (err) {
        logger.error({ err }, 'garbage collection failed');
      } finally {
        running = undefined;
      }
    })();
  };
  const stopTimer = clock.every(gc.intervalMs, run);
  return {
    async stop() {
      stopTimer();
      abort.abort();
      await running;
    },
  };
}
