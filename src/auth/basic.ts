import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { RegistryError } from '../oci/errors.js';
import { basicChallenge, bearerChallenge } from './challenge.js';
import { authorization, clientAddress, parseBasic, type BasicCredentials } from './credentials.js';
import type { HtpasswdFile } from './htpasswd.js';
import type { Permissions } from './permissions.js';
import type { LoginLimits } from './ratelimit.js';
import type { Access, AccessController, Grant } from './types.js';

/**
 * `auth.silly`: any Authorization header is enough; without one, a Bearer challenge. For tests
 * only, as in Distribution.
 */
export class SillyController implements AccessController {
  readonly kind = 'silly';

  constructor(
    private readonly realm: string,
    private readonly service: string,
  ) {}

  async authorize(req: IncomingMessage, needed: readonly Access[]): Promise<Grant> {
    if (!req.headers.authorization) throw bearerChallenge(this.realm, this.service, needed, undefined, 'authentication required');
    return { user: undefined };
  }
}

/**
 * Checks Basic credentials against an htpasswd file, within the limiter's budget per client
 * address and per user name. Shared by the htpasswd controller and the token issuer.
 */
export class PasswordCheck {
  constructor(
    private readonly file: HtpasswdFile,
    private readonly limiter: LoginLimits,
    private readonly log: Logger,
  ) {}

  /** The user, or a thrown error: `reject(message)` for bad credentials, 429 when rate-limited. */
  async check(req: IncomingMessage, encoded: string, reject: (message: string) => RegistryError): Promise<string> {
    const remote = clientAddress(req);
    const address = `a:${remote}`;
    const creds: BasicCredentials | string = parseBasic(encoded);
    if (typeof creds === 'string') {
      await this.refuseIfLimited([address], { remote });
      await this.limiter.reserve([address]); // a failure, never given back
      this.log.info({ remote, reason: creds }, 'login refused: malformed Basic credentials');
      throw reject(`malformed Basic credentials: ${creds}`);
    }
    const { user, password } = creds;
    const keys = [address, `u:${user}`];
    await this.file.fresh();
    // From the recall to the reservation nothing waits (with this process's limiter), so attempts
    // that arrive together are counted one by one. The limit comes first: a used-up key is refused
    // even with the right password, or a remembered success would tell a guesser when a guess was right.
    await this.refuseIfLimited(keys, { remote, user });
    const known = this.file.recall(user, password);
    let ok: boolean;
    if (known === true) return user;
    if (known) {
      // The same credentials are being checked right now: one check answers both, and counts once.
      ok = await known;
    } else {
      // With workers the primary counts (an answer to wait for); its count and check are one step there.
      const reserving = this.limiter.reserve(keys);
      const attempt = reserving instanceof Promise ? await reserving : reserving;
      ok = await this.file.verify(user, password);
      if (ok) attempt.release();
    }
    if (!ok) {
      this.log.info({ remote, user }, 'login failed');
      throw reject('invalid username or password');
    }
    return user;
  }

  /** The limiter's check, with a debug line when it refuses. */
  private async refuseIfLimited(keys: readonly string[], who: { remote: string; user?: string }): Promise<void> {
    try {
      await this.limiter.check(keys);
    } catch (err) {
      this.log.debug(who, 'login refused before any password check: too many failed logins');
      throw err;
    }
  }
}

/**
 * `auth.htpasswd`: Basic credentials from an htpasswd file. Without `berth.auth.permissions`
 * every user in the file may do everything (Distribution's behaviour); with them, an
 * authenticated user who is not allowed gets 403 DENIED, and anonymous callers get in only where
 * a rule allows anonymous pull.
 */
export class HtpasswdController implements AccessController {
  readonly kind = 'htpasswd';

  constructor(
    private readonly realm: string,
    private readonly passwords: PasswordCheck,
    private readonly permissions: Permissions | undefined,
  ) {}

  async authorize(req: IncomingMessage, needed: readonly Access[]): Promise<Grant> {
    const perms = this.permissions;
    const auth = authorization(req);
    if (!auth) {
      if (perms && needed.length > 0 && needed.every((a) => perms.allows(undefined, a))) {
        return { user: undefined, visible: (name) => perms.canPull(undefined, name) };
      }
      throw basicChallenge(this.realm, 'authentication required');
    }
    if (auth.scheme !== 'basic') throw basicChallenge(this.realm, 'Basic credentials required');
    const user = await this.passwords.check(req, auth.value, (message) => basicChallenge(this.realm, message));
    if (!perms) return { user };
    const denied = needed.filter((a) => !perms.allows(user, a));
    if (denied.length > 0) {
      throw new RegistryError('DENIED', undefined, denied.map((a) => ({ type: a.type, name: a.name, action: a.action })));
    }
    return { user, visible: (name) => perms.canPull(user, name) };
  }
}
