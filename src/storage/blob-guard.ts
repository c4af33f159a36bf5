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
  private readonly ends = new Map<string, () => void>();
  /** Deletions another worker's collector holds here: their ends. */
  private readonly heldForPeers = new Map<string, () => void>();
  private pruneAt = 10_000;

  /**
   * The other workers of `berth serve` (src/cluster/worker.ts), when there are any: their uses
   * count as this process's, and a deletion holds the digest in each of them too.
   */
  peers: GuardPeers | undefined;

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
    if (!this.claim(digest, since)) return false;
    const peers = this.peers;
    let claimedByPeers = false;
    try {
      // Then in every other worker, each the same way; any that saw a use keeps the digest.
      if (peers) {
        claimedByPeers = true;
        if (!(await peers.claim(digest, since))) return false;
      }
      return await remove();
    } finally {
      if (claimedByPeers) peers!.release(digest);
      this.release(digest);
    }
  }

  /** Takes in the other workers' uses since `since` (before the collector marks). */
  async refresh(since: number): Promise<void> {
    if (!this.peers) return;
    for (const [digest, at] of await this.peers.uses(since)) {
      if ((this.lastUse.get(digest) ?? 0) < at) this.lastUse.set(digest, at);
    }
  }

  /** This process's uses at or after `since`, for another worker's collector. */
  usesSince(since: number): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (const [digest, at] of this.lastUse) if (at >= since) out.push([digest, at]);
    return out;
  }

  /** Another worker's collector deletes `digest`: false when it was used here since `since`, else it is held until releaseForPeer. */
  claimForPeer(digest: string, since: number): boolean {
    if (!this.claim(digest, since)) return false;
    this.heldForPeers.set(digest, () => this.release(digest));
    return true;
  }

  releaseForPeer(digest: string): void {
    const end = this.heldForPeers.get(digest);
    this.heldForPeers.delete(digest);
    end?.();
  }

  private claim(digest: string, since: number): boolean {
    if (this.usedSince(digest, since) || this.inFlight.has(digest)) return false;
    this.inFlight.set(digest, new Promise<void>((resolve) => this.ends.set(digest, resolve)));
    return true;
  }

  private release(digest: string): void {
    this.inFlight.delete(digest);
    this.ends.get(digest)?.();
    this.ends.delete(digest);
  }

  /** Forgets uses older than the retention. */
  prune(now = Date.now()): void {
    const cutoff = now - this.retentionMs;
    for (const [digest, at] of this.lastUse) if (at < cutoff) this.lastUse.delete(digest);
    this.pruneAt = Math.max(10_000, this.lastUse.size * 2);
  }
}

/** What a guard asks of the other workers' guards (src/cluster/worker.ts). */
export interface GuardPeers {
  /** Their uses at or after `since`. */
  uses(since: number): Promise<Array<[string, number]>>;
  /** Holds `digest` in each of them; false (and held nowhere) when any used it since `since`. */
  claim(digest: string, since: number): Promise<boolean>;
  release(digest: string): void;
}
