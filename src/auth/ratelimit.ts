import { RegistryError } from '../oci/errors.js';

const MAX_TRACKED = 10_000;

/** One login attempt counted against its keys; `release` gives it back when the password was right. */
export interface Attempt {
  release(): void;
}

const UNCOUNTED: Attempt = { release: () => undefined };

/** The limit as a password check sees it: this process's LoginLimiter, or with workers the primary's (src/cluster/worker.ts). */
export interface LoginLimits {
  readonly enabled: boolean;
  check(keys: readonly string[]): void | Promise<void>;
  reserve(keys: readonly string[]): Attempt | Promise<Attempt>;
}

/** 429 TOOMANYREQUESTS, to try again in `seconds`. */
export function limitedError(seconds: number): RegistryError {
  return new RegistryError('TOOMANYREQUESTS', 'too many failed logins; try again later', undefined, { headers: { 'Retry-After': String(seconds) } });
}

interface Window {
  used: number;
  resetAt: number;
}

/**
 * Limits password checks per key (a client address, a user name) in fixed windows. An attempt is
 * counted when it starts, before its password is checked, and given back when the password was
 * right, so that however many attempts arrive together, at most `max` wrong passwords are checked
 * per key and window. A key whose window is used up is refused with 429 TOOMANYREQUESTS and a
 * Retry-After until the window ends, before any password is checked (so a flood costs no bcrypt).
 * A success does not reset the count: one valid account must not let a client guess others.
 */
export class LoginLimiter implements LoginLimits {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  get enabled(): boolean {
    return this.max > 0;
  }

  /** Throws TOOMANYREQUESTS when any of the keys has no attempts left in its window. */
  check(keys: readonly string[]): void {
    const seconds = this.retryAfter(keys);
    if (seconds !== undefined) throw limitedError(seconds);
  }

  /** Seconds until every key has attempts left; undefined when all have now. */
  retryAfter(keys: readonly string[]): number | undefined {
    if (!this.enabled) return undefined;
    const now = Date.now();
    for (const key of keys) {
      const w = this.windows.get(key);
      if (w && w.resetAt > now && w.used >= this.max) return Math.max(1, Math.ceil((w.resetAt - now) / 1000));
    }
    return undefined;
  }

  /**
   * Counts an attempt against every key (after `check`, so all or none are counted). Call it in
   * the same tick as the check that allowed it: attempts that arrive together are then counted
   * one by one, and the (max+1)th is refused before its password is checked.
   */
  reserve(keys: readonly string[]): Attempt {
    if (!this.enabled) return UNCOUNTED;
    this.check(keys);
    const now = Date.now();
    const counted: Array<[string, Window]> = [];
    for (const key of keys) {
      let w = this.windows.get(key);
      if (w && w.resetAt > now) w.used++;
      else {
        this.windows.delete(key);
        this.windows.set(key, (w = { used: 1, resetAt: now + this.windowMs }));
      }
      counted.push([key, w]);
    }
    if (this.windows.size > MAX_TRACKED) this.prune(now);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        // Only within the window it was counted in: a new window starts from zero anyway.
        for (const [key, w] of counted) if (this.windows.get(key) === w && w.used > 0) w.used--;
      },
    };
  }

  private prune(now: number): void {
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
    // Still too many live keys: forget the oldest windows first (Map keeps insertion order).
    for (const key of this.windows.keys()) {
      if (this.windows.size <= MAX_TRACKED) break;
      this.windows.delete(key);
    }
  }
}
