import { RegistryError } from '../oci/errors.js';

const MAX_TRACKED = 10_000;

/**
 * Counts failed logins per key (a client address, a user name) in fixed windows. Once a key has
 * `max` failures in its window, every login for it is refused with 429 TOOMANYREQUESTS and a
 * Retry-After until the window ends, before any password is checked (so a flood costs no bcrypt).
 * A success does not reset the count: one valid account must not let a client guess others.
 */
export class FailureLimiter {
  private readonly counts = new Map<string, { failures: number; resetAt: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  get enabled(): boolean {
    return this.max > 0;
  }

  /** Throws TOOMANYREQUESTS when any of the keys is over its limit. */
  check(keys: readonly string[]): void {
    if (!this.enabled) return;
    const now = Date.now();
    for (const key of keys) {
      const entry = this.counts.get(key);
      if (entry && entry.resetAt > now && entry.failures >= this.max) {
        const seconds = Math.max(1, Math.ceil((entry.resetAt - now) / 1000));
        throw new RegistryError('TOOMANYREQUESTS', 'too many failed logins; try again later', undefined, { headers: { 'Retry-After': String(seconds) } });
      }
    }
  }

  fail(keys: readonly string[]): void {
    if (!this.enabled) return;
    const now = Date.now();
    for (const key of keys) {
      const entry = this.counts.get(key);
      if (entry && entry.resetAt > now) entry.failures++;
      else {
        this.counts.delete(key);
        this.counts.set(key, { failures: 1, resetAt: now + this.windowMs });
      }
    }
    if (this.counts.size > MAX_TRACKED) this.prune(now);
  }

  private prune(now: number): void {
    for (const [key, entry] of this.counts) if (entry.resetAt <= now) this.counts.delete(key);
    // Still too many live keys: forget the oldest windows first (Map keeps insertion order).
    for (const key of this.counts.keys()) {
      if (this.counts.size <= MAX_TRACKED) break;
      this.counts.delete(key);
    }
  }
}
