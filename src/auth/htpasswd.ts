import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import type { Logger } from 'pino';
import { traced } from '../tracing/index.js';

/** How often, at most, the file's modification time is looked at (lazily, on a login). */
const RECHECK_MS = 1000;
/** Successful verifications are remembered this long, so a `docker pull` pays bcrypt once. */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 1024;
const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

function credentialKey(user: string, password: string): string {
  return createHash('sha256').update(user).update('\0').update(password).digest('base64');
}

interface Loaded {
  users: Map<string, string>;
  mtimeMs: number;
  size: number;
}

/**
 * An Apache htpasswd file with bcrypt entries (`htpasswd -B`). Other hash kinds (MD5 `$apr1$`,
 * SHA1 `{SHA}`, crypt, plain) are refused: each such entry is skipped with one log line naming
 * the user, never the hash. The file is re-read when its modification time or size changes;
 * that is checked at most once a second, when someone logs in.
 */
export class HtpasswdFile {
  private loaded: Loaded;
  private lastCheck = Date.now();
  private rereading: Promise<void> | undefined;
  /** sha256(user, password) → expiry; cleared whenever the file is re-read. */
  private readonly verified = new Map<string, number>();
  /** sha256(user, password) → its bcrypt check while one runs: the same credentials at once are checked once. */
  private readonly checking = new Map<string, Promise<boolean>>();
  /** A hash of a random string, of the file's cost: an unknown user costs as much as a known one. */
  private dummy: string | undefined;

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {
    // A missing or unreadable file at start is a configuration error (thrown to the caller).
    this.loaded = this.read(statSync(path));
  }

  /**
   * Whether `password` is the user's password, as of the last `fresh()`. Timing does not reveal
   * whether the user exists. A check of the same credentials already running is shared.
   */
  verify(user: string, password: string): Promise<boolean> {
    const key = credentialKey(user, password);
    const known = this.recallKey(key);
    if (known !== undefined) return Promise.resolve(known);
    const check = this.compare(key, user, password).finally(() => this.checking.delete(key));
    this.checking.set(key, check);
    return check;
  }

  /**
   * The answer for these credentials without checking a password: true when they were verified
   * recently, the running check of the very same credentials, or undefined when a check is needed.
   */
  recall(user: string, password: string): true | Promise<boolean> | undefined {
    return this.recallKey(credentialKey(user, password));
  }

  private recallKey(key: string): true | Promise<boolean> | undefined {
    const until = this.verified.get(key);
    if (until !== undefined) {
      if (until > Date.now()) return true;
      this.verified.delete(key);
    }
    return this.checking.get(key);
  }

  /** The bcrypt check, in an `auth.htpasswd.verify` span when tracing is on. */
  private compare(key: string, user: string, password: string): Promise<boolean> {
    return traced('auth.htpasswd.verify', 'internal', {}, async (span) => {
      const ok = await this.compareHash(key, user, password);
      span?.setAttribute('auth.valid', ok);
      return ok;
    });
  }

  private async compareHash(key: string, user: string, password: string): Promise<boolean> {
    const loaded = this.loaded;
    const hash = loaded.users.get(user);
    // bcrypt's own comparison is constant-time; an unknown user still pays one bcrypt round.
    const ok = await bcrypt.compare(password, hash ?? this.dummyHash());
    if (!ok || hash === undefined) return false;
    if (loaded !== this.loaded) return true; // right when checked; not remembered past a re-read
    const now = Date.now();
    if (this.verified.size >= VERIFIED_MAX) {
      for (const [k, t] of this.verified) if (t <= now) this.verified.delete(k);
      if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    }
    this.verified.set(key, now + VERIFIED_TTL_MS);
    return true;
  }

  has(user: string): boolean {
    return this.loaded.users.has(user);
  }

  private dummyHash(): string {
    if (this.dummy === undefined) {
      const sample = this.loaded.users.values().next().value;
      const cost = sample ? Number(sample.slice(4, 6)) : 10;
      this.dummy = bcrypt.hashSync(randomBytes(18).toString('base64'), cost);
    }
    return this.dummy;
  }

  /** Re-reads the file when it changed (looked at once a second at most). */
  async fresh(): Promise<void> {
    if (Date.now() - this.lastCheck < RECHECK_MS) return;
    this.rereading ??= (async () => {
      try {
        const info = await stat(this.path);
        if (info.mtimeMs !== this.loaded.mtimeMs || info.size !== this.loaded.size) {
          this.loaded = this.read(info);
          this.verified.clear();
          this.log.info({ path: this.path, users: this.loaded.users.size }, 'htpasswd file reloaded');
        }
      } catch (err) {
        // Keep serving with what was last read; say so once per check.
        this.log.error({ path: this.path, reason: (err as Error).message }, 'htpasswd file could not be re-read; keeping the previous users');
      } finally {
        this.lastCheck = Date.now();
        this.rereading = undefined;
      }
    })();
    await this.rereading;
  }

  private read(info: { mtimeMs: number; size: number }): Loaded {
    const text = readFileSync(this.path, 'utf8');
    const users = new Map<string, string>();
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const colon = line.indexOf(':');
      if (colon <= 0) {
        this.log.warn({ path: this.path, line: i + 1 }, 'htpasswd: skipping a malformed line (expected user:hash)');
        return;
      }
      const user = line.slice(0, colon);
      const hash = line.slice(colon + 1).trim();
      if (!BCRYPT.test(hash)) {
        this.log.warn({ path: this.path, user }, `htpasswd: user "${user}" has an unsupported hash kind (only bcrypt is accepted: htpasswd -B); the entry is ignored`);
        return;
      }
      users.set(user, hash);
    });
    return { users, mtimeMs: info.mtimeMs, size: info.size };
  }
}
