import type { GcResult } from './collector.js';
import { counterFamily, histogramFamily } from '../metrics/registry.js';

/** GC run metrics for the debug server (berth.gc inside serve): runs, what each reclaimed, how long it took. */
export function gcMetricsHook(): (result: GcResult, ms: number, dryRun: boolean) => void {
  const runs = counterFamily('berth_gc_runs_total', 'Garbage collection runs completed', ['dryrun']);
  const blobs = counterFamily('berth_gc_blobs_deleted_total', 'Blobs deleted by garbage collection', []).cell();
  const bytes = counterFamily('berth_gc_bytes_reclaimed_total', 'Bytes of blob data deleted by garbage collection', []).cell();
  const manifests = counterFamily('berth_gc_manifests_deleted_total', 'Untagged manifests deleted by garbage collection', []).cell();
  const seconds = histogramFamily('berth_gc_duration_seconds', 'Garbage collection run time, in seconds', [], [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600]);
  const duration = seconds.cell();
  return (result, ms, dryRun) => {
    runs.cell(String(dryRun)).value++;
    if (!dryRun) {
      blobs.value += result.blobsDeleted.length;
      bytes.value += result.bytesDeleted;
      manifests.value += result.manifestsDeleted.length;
    }
    seconds.observe(duration, ms / 1000);
  };
}
