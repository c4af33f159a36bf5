import type { OperationEvent } from '../storage/driver/base.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import type { CounterCell, HistogramCell } from './cells.js';
import { counterFamily, DEFAULT_BUCKETS, histogramFamily, LATENCY_BUCKETS } from './registry.js';

/**
 * Driver operations Distribution's base wrapper times, by Berth's operation name → Distribution's
 * `action` label. openRead is Berth's Reader for positioned reads (a blob GET on the filesystem).
 * Berth's other operations (paged listings, writer calls, pending writes) are timed in
 * berth_storage_action_seconds, so the Distribution family means what it means there.
 */
const DISTRIBUTION_ACTIONS: Record<string, string> = {
  getContent: 'GetContent',
  putContent: 'PutContent',
  reader: 'Reader',
  openRead: 'Reader',
  writer: 'Writer',
  stagedWriter: 'Writer',
  stat: 'Stat',
  statFile: 'Stat',
  list: 'List',
  move: 'Move',
  delete: 'Delete',
  redirectURL: 'URLFor',
  walk: 'Walk',
};

/**
 * The storage driver's operation hook (base wrapper's onOperation): latency per driver and
 * action, and errors other than "path not found" (which is an answer, not a failure).
 */
export function driverMetricsHook(): (event: OperationEvent) => void {
  const distribution = histogramFamily('registry_storage_action_seconds', 'The number of seconds that the storage action takes', ['driver', 'action'], DEFAULT_BUCKETS);
  const berth = histogramFamily('berth_storage_action_seconds', 'Storage driver operations Distribution does not have (paged listings, writer calls), in seconds', ['driver', 'action'], LATENCY_BUCKETS);
  const errors = counterFamily('berth_storage_errors_total', 'Storage driver operations that failed (not counting path-not-found)', ['driver', 'action']);
  const cells = new Map<string, { family: typeof berth; seconds: HistogramCell; errors: CounterCell }>();
  return (event) => {
    const key = `${event.driver}:${event.operation}`;
    let cell = cells.get(key);
    if (!cell) {
      const action = DISTRIBUTION_ACTIONS[event.operation];
      const family = action ? distribution : berth;
      const name = action ?? event.operation;
      cells.set(key, (cell = { family, seconds: family.cell(event.driver, name), errors: errors.cell(event.driver, name) }));
    }
    cell.family.observe(cell.seconds, event.durationMs / 1000);
    if (event.error !== undefined && !isPathNotFound(event.error)) cell.errors.value++;
  };
}

/** One blob descriptor lookup's outcome, for registry_storage_cache_total. */
export interface CacheCounters {
  /** A lookup answered from a cache (this process's, or redis). */
  hit(): void;
  /** A lookup that had to ask the storage driver. */
  miss(): void;
}

/**
 * Distribution's blob descriptor cache counter, registry_storage_cache_total{type}: every lookup
 * is a Request and either a Hit or a Miss.
 */
export function blobDescriptorCacheCounters(): CacheCounters {
  const family = counterFamily('registry_storage_cache_total', 'The number of cache request received', ['type']);
  const request = family.cell('Request');
  const hit = family.cell('Hit');
  const miss = family.cell('Miss');
  return {
    hit() {
      request.value++;
      hit.value++;
    },
    miss() {
      request.value++;
      miss.value++;
    },
  };
}
