import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import type { StorageDriver } from '../storage/driver/types.js';

/**
 * Expiry of cached content. Each cached blob and manifest has an entry `<local name>@<digest>`
 * with the time it expires; a pull of it moves that time to now + ttl. The state is kept in the
 * storage driver at `/scheduler-state.json` in Distribution's format (a JSON object mapping the
 * key to `{"Key", "ExpiryData", "EntryType"}`, EntryType 0 for blobs, 1 for manifests), so a cache
 * written by Distribution's proxy keeps expiring under Berth and the other way round. It is written
 * when something changed, at most every `saveIntervalMs`, and when the mirror stops.
 */

export const STATE_PATH = '/scheduler-state.json';
export const ENTRY_BLOB = 0;
export const ENTRY_MANIFEST = 1;

interface Entry {
  Key: string;
  ExpiryData: string;
  EntryType: number;
  /** Parsed ExpiryData (not serialised). */
  expires: number;
}

export type ExpireFn = (name: string, digest: string, type: number) => Promise<void>;

export class ExpiryScheduler {
  private readonly entries = new Map<string, Entry>();
  /** How many entries name each digest (any repository). */
  private readonly perDigest = new Map<string, number>();
  private dirty = false;
  private stopTimers: (() => void)[] = [];
  private sweeping: Promise<void> | undefined;
  private sweepAgain = false;
  private stopped = false;

  constructor(
    private readonly driver: StorageDriver,
    private readonly onExpire: ExpireFn,
    private readonly log: Logger,
    private readonly sweepIntervalMs: number,
    private readonly saveIntervalMs = 5000,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Reads the saved state and starts sweeping (expired entries go at the first sweep). */
  async start(): Promise<void> {
    let text: string | undefined;
    try {
      text = (await this.driver.getContent(STATE_PATH)).toString('utf8');
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
    if (text) {
      try {
        const saved = JSON.parse(text) as Record<string, Partial<Entry>>;
        for (const [key, e] of Object.entries(saved ?? {})) {
          const expires = Date.parse(String(e?.ExpiryData ?? ''));
          if (!Number.isFinite(expires) || !key.includes('@')) continue;
          this.put({ Key: key, ExpiryData: String(e.ExpiryData), EntryType: e.EntryType === ENTRY_MANIFEST ? ENTRY_MANIFEST : ENTRY_BLOB, expires });
        }
      } catch (err) {
        this.log.warn({ err, path: STATE_PATH }, 'mirror: unreadable expiry state ignored');
      }
    }
    this.stopTimers = [this.clock.every(this.sweepIntervalMs, () => void this.sweep()), this.clock.every(this.saveIntervalMs, () => void this.save())];
    await this.sweep();
  }

  /** Records a pull: the entry expires ttl from now. */
  touch(name: string, digest: string, type: number, ttlMs: number): void {
    if (ttlMs <= 0 || this.stopped) return;
    const key = `${name}@${digest}`;
    const expires = this.clock.now() + ttlMs;
    const e = this.entries.get(key);
    // Writing the state for sub-second moves is not worth it.
    if (e && e.EntryType === type && expires - e.expires < 1000) return;
    this.put({ Key: key, ExpiryData: new Date(expires).toISOString(), EntryType: type, expires });
    this.dirty = true;
  }

  private put(e: Entry): void {
    if (!this.entries.has(e.Key)) {
      const digest = e.Key.slice(e.Key.lastIndexOf('@') + 1);
      this.perDigest.set(digest, (this.perDigest.get(digest) ?? 0) + 1);
    }
    this.entries.set(e.Key, e);
  }

  private remove(key: string): void {
    if (!this.entries.delete(key)) return;
    const digest = key.slice(key.lastIndexOf('@') + 1);
    const n = (this.perDigest.get(digest) ?? 1) - 1;
    if (n > 0) this.perDigest.set(digest, n);
    else this.perDigest.delete(digest);
  }

  /** Whether a repository other than `name` has an entry for `digest`. */
  holds(digest: string, name: string): boolean {
    return (this.perDigest.get(digest) ?? 0) - (this.entries.has(`${name}@${digest}`) ? 1 : 0) > 0;
  }

  expiry(name: string, digest: string): number | undefined {
    return this.entries.get(`${name}@${digest}`)?.expires;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Expires every entry past its time. One sweep runs at a time; one asked for meanwhile runs
   * again after it, so what fell due during the running one (read at its start) is not left for
   * the next interval.
   */
  sweep(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true;
      return this.sweeping;
    }
    const run = async () => {
      do {
        this.sweepAgain = false;
        await this.runSweep();
      } while (this.sweepAgain && !this.stopped);
    };
    return (this.sweeping = run().finally(() => (this.sweeping = undefined)));
  }

  private async runSweep(): Promise<void> {
    const now = this.clock.now();
    for (const e of [...this.entries.values()]) {
      if (this.stopped) return;
      if (e.expires > now) continue;
      const at = e.Key.lastIndexOf('@');
      try {
        await this.onExpire(e.Key.slice(0, at), e.Key.slice(at + 1), e.EntryType);
        // A pull during the expiry re-touched the entry: keep the new one.
        if (this.entries.get(e.Key) === e) this.remove(e.Key);
        this.dirty = true;
      } catch (err) {
        this.log.error({ err, key: e.Key }, 'mirror: expiring cached content failed');
      }
    }
    if (this.dirty) await this.save();
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const out: Record<string, Omit<Entry, 'expires'>> = {};
    for (const e of this.entries.values()) out[e.Key] = { Key: e.Key, ExpiryData: e.ExpiryData, EntryType: e.EntryType };
    try {
      await this.driver.putContent(STATE_PATH, Buffer.from(JSON.stringify(out)));
    } catch (err) {
      this.dirty = true;
      this.log.error({ err, path: STATE_PATH }, 'mirror: writing the expiry state failed');
    }
  }

  async stop(): Promise<void> {
    for (const stop of this.stopTimers) stop();
    await this.sweeping;
    this.stopped = true;
    await this.save();
  }
}
