import { LINK_READS } from '../../storage/map-limit.js';

/**
 * Reads done behind answers: a page answered with a value read a little earlier (a stale tag
 * target, an old push time) has it read again here, after the answer. One read per key at a
 * time, LINK_READS at once for the whole server, each started on a later turn of the event loop
 * than the request that asked for it.
 */
export class Refresher {
  private readonly queued = new Map<string, () => Promise<unknown>>();
  private readonly running = new Set<string>();

  /** Runs `read` behind the answer, unless a read of `key` is already queued or running. */
  run(key: string, read: () => Promise<unknown>): void {
    if (this.queued.has(key) || this.running.has(key)) return;
    this.queued.set(key, read);
    if (this.queued.size === 1) setImmediate(() => this.pump());
  }

  private pump(): void {
    for (const [key, read] of this.queued) {
      if (this.running.size >= LINK_READS) return;
      this.queued.delete(key);
      this.running.add(key);
      // A failed read leaves the stale value to expire; the next page then reads it itself.
      void read()
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(key);
          this.pump();
        });
    }
  }
}
