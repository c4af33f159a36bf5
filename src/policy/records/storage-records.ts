import { isPathNotFound } from '../../storage/driver/errors.js';
import type { StorageDriver } from '../../storage/driver/types.js';
import { deleteIfExists } from '../../storage/links.js';
import { recordsPath } from '../../storage/paths.js';
import { mergeRecord, type ManifestRecord, type RecordDelta, type RecordStore } from './store.js';

/**
 * Records beside the layout: `_berth/records/<name>/_records.json`, one JSON object per
 * repository mapping each digest to `{pushed, pulled, pulls}` (times as RFC 3339). Distribution
 * never looks under `_berth/`. A merge reads the file, adds the batch and writes it back (a
 * temporary name renamed into place, or one object PUT): writes by this process are one at a
 * time (the Recorder flushes one batch at a time); two instances without Redis flushing the same
 * repository in the same instant can lose one batch's pulls, which is why several instances keep
 * records in Redis (redis-records.ts).
 */
export class StorageRecords implements RecordStore {
  constructor(private readonly driver: StorageDriver) {}

  async read(name: string): Promise<Map<string, ManifestRecord>> {
    let content: Buffer;
    try {
      content = await this.driver.getContent(recordsPath(name));
    } catch (err) {
      if (isPathNotFound(err)) return new Map();
      throw err;
    }
    return parseRecords(content);
  }

  async merge(name: string, deltas: ReadonlyMap<string, RecordDelta>): Promise<void> {
    const records = await this.read(name);
    for (const [digest, delta] of deltas) records.set(digest, mergeRecord(records.get(digest), delta));
    await this.write(name, records);
  }

  async forget(name: string, digests?: readonly string[]): Promise<void> {
    if (!digests) {
      await deleteIfExists(this.driver, recordsPath(name));
      return;
    }
    const records = await this.read(name);
    if (!digests.some((d) => records.delete(d))) return;
    if (records.size === 0) await deleteIfExists(this.driver, recordsPath(name));
    else await this.write(name, records);
  }

  private async write(name: string, records: Map<string, ManifestRecord>): Promise<void> {
    const doc: Record<string, { pushed: string | null; pulled: string | null; pulls: number }> = {};
    for (const [digest, r] of records) doc[digest] = { pushed: isoOrNull(r.pushed), pulled: isoOrNull(r.pulled), pulls: r.pulls };
    await this.driver.putContent(recordsPath(name), Buffer.from(JSON.stringify(doc)));
  }
}

/** A records file; entries it cannot read are left out (a file another version wrote, or a torn one from outside Berth). */
function parseRecords(content: Buffer): Map<string, ManifestRecord> {
  const out = new Map<string, ManifestRecord>();
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString('utf8'));
  } catch {
    return out;
  }
  if (typeof doc !== 'object' || doc === null) return out;
  for (const [digest, v] of Object.entries(doc as Record<string, unknown>)) {
    if (typeof v !== 'object' || v === null) continue;
    const e = v as Record<string, unknown>;
    out.set(digest, { pushed: timeOrNull(e.pushed), pulled: timeOrNull(e.pulled), pulls: typeof e.pulls === 'number' && e.pulls >= 0 ? e.pulls : 0 });
  }
  return out;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function timeOrNull(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : ms;
}
