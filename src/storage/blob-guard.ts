/**
 * Coordination between the running server and a garbage collector in the same process
 * (docs/gc.md). The server reports every time it relies on a digest being present — a blob HEAD
 * or GET, a mount, an upload that finds its blob already stored, a manifest pushed or its
 * references checked — by calling `use`. The collector skips any digest used recently, and
 * deletes each one inside `deleting`, so a use that arrives during the deletion waits for it and
 * then finds the content gone (and the client uploads it again) instead of being told it exists.
 */
export class BlobGuard {
  private readonly lastUse = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private pruneAt = 10_000;

  /**
   * How long uses are remembered (the collector's grace period). 0, the default, remembers
   * nothing: a process that runs no collector pays one comparison per use.
   */
  retentionMs = 0;

  /** Records a use of `digest` now; resolves once any deletion of it in progress has finished. */
  use(digest: string): Promise<void> | undefined {
    if (this.retentionMs > 0) {
      this.lastUse.set(digest, Date.now());
      if (this.lastUse.size >= this.pruneAt) this.prune();
    }
    return this.inFlight.get(digest);
  }

  /** Whether `digest` was used at or after `since` (ms since the epoch). */
  usedSince(digest: string, since: number): boolean {
    const at = this.lastUse.get(digest);
    return at !== undefined && at >= since;
  }

  /**
   * Runs `remove` for `digest` unless it was used at or after `since`; uses arriving meanwhile
   * wait for it. Returns whether `remove` ran and reported a deletion.
   */
  async deleting(digest: string, since: number, remove: () => Promise<boolean>): Promise<boolean> {
    // Check and claim synchronously: a use either came before (and is seen here) or waits.
    if (this.usedSince(digest, since) || this.inFlight.has(digest)) return false;
    let done!: () => void;
    this.inFlight.set(digest, new Promise<void>((resolve) => (done = resolve)));
    try {
      return await remove();
    } finally {
      this.inFlight.delete(digest);
      done();
    }
  }

  /** Forgets uses older than the retention. */
  prune(now = Date.now()): void {
    const cutoff = now - this.retentionMs;
    for (const [digest, at] of this.lastUse) if (at < cutoff) this.lastUse.delete(digest);
    this.pruneAt = Math.max(10_000, this.lastUse.size * 2);
  }
}
