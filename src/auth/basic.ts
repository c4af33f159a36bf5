import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { RegistryError } from '../oci/errors.js';
import { basicChallenge, bearerChallenge } from './challenge.js';
import { authorization, clientAddress, parseBasic, type BasicCredentials } from './credentials.js';
import type { HtpasswdFile } from './htpasswd.js';
import type { Permissions } from './permissions.js';
import type { FailureLimiter } from './ratelimit.js';
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
 * Checks Basic credentials against an htpasswd file, counting failures against the limiter
 * (per client address and per user name). Shared by the htpasswd controller and the token issuer.
 */
export class PasswordCheck {
  constructor(
    private readonly file: HtpasswdFile,
    private readonly limiter: FailureLimiter,
    private readonly log: Logger,
  ) {}

  /** The user, or a thrown error: `reject(message)` for bad credentials, 429 when rate-limited. */
  async check(req: IncomingMessage, encoded: string, reject: (message: string) => RegistryError): Promise<string> {
    const address = `a:${clientAddress(req)}`;
    const creds: BasicCredentials | string = parseBasic(encoded);
    if (typeof creds === 'string') {
      this.limiter.check([address]);
      this.limiter.fail([address]);
      this.log.info({ remote: clientAddress(req), reason: creds }, 'login refused: malformed Basic credentials');
      throw reject(`malformed Basic credentials: ${creds}`);
    }
    const keys = [address, `u:${creds.user}`];
    this.limiter.check(keys);
    if (!(await this.file.verify(creds.user, creds.password))) {
      this.limiter.fail(keys);
      this.log.info({ remote: clientAddress(req), user: creds.user }, 'login failed');
      throw reject('invalid username or password');
    }
    return creds.user;
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
