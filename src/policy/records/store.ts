/**
 * Pull and push records of manifests, per repository (docs/policy.md): when a manifest was last
 * pushed, last pulled, and how many times it was pulled. A RecordStore keeps them where every
 * instance sees them: beside the layout (storage-records.ts) or in Redis (redis-records.ts); the
 * Recorder (recorder.ts) collects them in memory and writes them in batches.
 */

import type { ManifestRecord } from '../../storage/rules.js';

export type { ManifestRecord };

/** What happened since the last write: the latest times, and pulls to add. */
export type RecordDelta = ManifestRecord;

export interface RecordStore {
  /** Adds `deltas` (by digest) to repository `name`'s records: each time becomes the later of the two, counts add up. */
  merge(name: string, deltas: ReadonlyMap<string, RecordDelta>): Promise<void>;
  /** Repository `name`'s records by digest (empty when none). */
  read(name: string): Promise<Map<string, ManifestRecord>>;
  /** Drops the records of `digests` in repository `name`, or all of its records without `digests`. */
  forget(name: string, digests?: readonly string[]): Promise<void>;
}

/** `into` with `delta` added (times: the later; pulls: the sum). */
export function mergeRecord(into: ManifestRecord | undefined, delta: RecordDelta): ManifestRecord {
  if (!into) return { ...delta };
  return { pushed: later(into.pushed, delta.pushed), pulled: later(into.pulled, delta.pulled), pulls: into.pulls + delta.pulls };
}

function later(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}
