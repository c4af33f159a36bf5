import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import type { Digest } from '../../oci/digest.js';
import { LruCache } from '../../storage/lru.js';
import type { ActivityRecords } from '../../storage/rules.js';
import { mergeRecord, type ManifestRecord, type RecordDelta, type RecordStore } from './store.js';

/** How often pulls and pushes are written to the store, and how long a repository's records read from it are reused. */
export const FLUSH_MS = 10_000;

export interface RecorderOptions {
  flushMs?: number;
  /** False in read-only mode (storage.maintenance.readonly): records are kept in memory only. */
  persist?: boolean;
}

/**
 * Pull and push records as this process sees them (docs/policy.md). A pull or push is noted in
 * memory (two map look-ups, no I/O: nothing is written on the pull path) and the notes are merged
 * into the store in one batch per repository every FLUSH_MS and at shutdown, one batch at a time.
 * A batch the store refuses is kept for the next one. Reads answer the store's records (reused for
 * FLUSH_MS) with this process's notes not yet written added.
 */
export class Recorder implements ActivityRecords {
  private pending = new Map<string, Map<string, RecordDelta>>();
  /** The batch being written: still this process's news until the store has it. */
  private writing: Map<string, Map<string, RecordDelta>> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly kept = new LruCache<{ at: number; records: Map<string, ManifestRecord> }>(1_000);
  private readonly stopTimer: () => void;
  private readonly flushMs: number;
  private readonly persist: boolean;
  private lastWarning = 0;

  constructor(
    readonly store: RecordStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    options: RecorderOptions = {},
  ) {
    this.flushMs = options.flushMs ?? FLUSH_MS;
    this.persist = options.persist ?? true;
    this.stopTimer = this.persist ? clock.every(this.flushMs, () => void this.flush()) : () => undefined;
  }

  pushed(name: string, digest: Digest): void {
    this.entry(name, digest.value).pushed = this.clock.now();
  }

  pulled(name: string, digest: Digest): void {
    const e = this.entry(name, digest.value);
    e.pulled = this.clock.now();
    e.pulls++;
  }

  private entry(name: string, digest: string): RecordDelta {
    let repo = this.pending.get(name);
    if (!repo) this.pending.set(name, (repo = new Map()));
    let e = repo.get(digest);
    if (!e) repo.set(digest, (e = { pushed: null, pulled: null, pulls: 0 }));
    return e;
  }

  /** Repository `name`'s records by digest, this process's latest notes included. */
  async read(name: string): Promise<Map<string, ManifestRecord>> {
    let hit = this.kept.get(name);
    if (!hit || this.clock.now() - hit.at >= this.flushMs || hit.at > this.clock.now()) {
      hit = { at: this.clock.now(), records: await this.store.read(name) };
      this.kept.set(name, hit);
    }
    const notes = [this.writing?.get(name), this.pending.get(name)].filter((m) => m !== undefined);
    if (notes.length === 0) return hit.records;
    const out = new Map(hit.records);
    for (const m of notes) for (const [digest, delta] of m) out.set(digest, mergeRecord(out.get(digest), delta));
    return out;
  }

  /** Writes what was noted so far; resolves when it is written (or kept for the next batch after a failure). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeBatch());
    return this.flushing;
  }

  /** Resolves once the batches already started (by the timer or flush) are written; starts none. */
  settled(): Promise<void> {
    return this.flushing;
  }

  private async writeBatch(): Promise<void> {
    if (!this.persist || this.pending.size === 0) return;
    const batch = (this.writing = this.pending);
    this.pending = new Map();
    try {
      for (const [name, deltas] of batch) {
        try {
          await this.store.merge(name, deltas);
          this.kept.delete(name);
        } catch (err) {
          // Kept for the next batch: merged into what was noted meanwhile.
          for (const [digest, delta] of deltas) Object.assign(this.entry(name, digest), mergeRecord(this.pending.get(name)?.get(digest), delta));
          if (Date.now() - this.lastWarning > 60_000) {
            this.lastWarning = Date.now();
            this.log.warn({ err, repository: name }, 'could not write pull and push records; kept for the next attempt');
          }
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  /** Drops the records of `digests` (all of the repository's without them), noted and stored. */
  async forget(name: string, digests?: readonly string[]): Promise<void> {
    const notes = this.pending.get(name);
    if (digests && notes) for (const d of digests) notes.delete(d);
    else this.pending.delete(name);
    this.kept.delete(name);
    if (this.persist) await this.store.forget(name, digests);
  }

  async forgetRepository(name: string): Promise<void> {
    await this.forget(name).catch((err: unknown) => this.log.warn({ err, repository: name }, 'could not remove the records of a deleted repository'));
  }

  /** Stops the timer and writes what is left (server shutdown). */
  async close(): Promise<void> {
    this.stopTimer();
    await this.flush();
  }
}
