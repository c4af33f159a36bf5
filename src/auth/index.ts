import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { ConfigError } from '../config/errors.js';
import type { StorageDriver } from '../storage/driver/types.js';
import { HtpasswdController, PasswordCheck, SillyController } from './basic.js';
import { authSettings } from './config.js';
import { HtpasswdFile } from './htpasswd.js';
import { TokenIssuer, loadSigningKey } from './issuer.js';
import { TrustedKeys } from './keys.js';
import { Permissions } from './permissions.js';
import { LoginLimiter, type LoginLimits } from './ratelimit.js';
import { TokenController } from './token.js';
import type { AccessController } from './types.js';
import { accessControllerFactory, type AccessControllerFactory } from './controllers.js';

export { accessFor } from './access.js';
export type { Access, AccessController, Grant } from './types.js';
export type { TokenIssuer } from './issuer.js';

export interface Auth {
  controller: AccessController;
  /** The built-in token endpoint, when `berth.auth.tokenissuer` is configured. */
  issuer?: TokenIssuer;
}

export interface AuthOptions {
  /** Where failed logins are counted (with workers: the primary); by default this process. */
  loginLimits?: (max: number, windowMs: number) => LoginLimits;
}

/** Builds the access controller (and token issuer) the configuration asks for; undefined when auth is off. */
export async function createAuth(config: Config, driver: StorageDriver, logger: Logger, options: AuthOptions = {}): Promise<Auth | undefined> {
  const [kind = ''] = Object.keys(config.auth ?? {});
  const custom = accessControllerFactory(kind);
  if (custom) return { controller: await pluginController(kind, custom, config, driver, logger) };
  const settings = authSettings(config);
  if (!settings) return undefined;
  const log = logger.child({ component: 'auth' });
  const limiter = (options.loginLimits ?? ((max, windowMs) => new LoginLimiter(max, windowMs)))(settings.ratelimit.failures, settings.ratelimit.windowMs);
  const permissions = settings.permissions ? new Permissions(settings.permissions.rules, settings.permissions.groups) : undefined;
  const c = settings.controller;
  switch (c.kind) {
    case 'silly':
      return { controller: new SillyController(c.realm, c.service) };
    case 'htpasswd':
      return { controller: new HtpasswdController(c.realm, new PasswordCheck(openHtpasswd(c.path, 'auth.htpasswd.path', log), limiter, log), permissions) };
    case 'token': {
      const keys = new TrustedKeys();
      if (c.rootcertbundle) await keys.addCertificates(c.rootcertbundle, 'auth.token.rootcertbundle');
      if (c.jwks) await keys.addJwks(c.jwks, 'auth.token.jwks');
      let issuer: TokenIssuer | undefined;
      if (settings.issuer) {
        const key = await loadSigningKey(settings.issuer.key, driver, log);
        const kid = await keys.addKey(key.publicKey);
        const passwords = new PasswordCheck(openHtpasswd(settings.issuer.htpasswd, 'berth.auth.tokenissuer.htpasswd', log), limiter, log);
        issuer = new TokenIssuer(settings.issuer, c, { ...key, kid }, passwords, permissions, log);
        if (!c.signingalgorithms.includes(key.alg)) throw new ConfigError(`auth.token.signingalgorithms: the token issuer signs with ${key.alg}, which is not in the list`);
      }
      if (keys.size === 0) throw new ConfigError('auth.token: no signing keys (set rootcertbundle or jwks, or enable berth.auth.tokenissuer)');
      return { controller: new TokenController(c, keys, permissions, log), ...(issuer ? { issuer } : {}) };
    }
  }
}

/** A plugin's controller, from `auth.<name>`; berth.auth (permissions, issuer, limits) is for the built-in ones. */
async function pluginController(kind: string, factory: AccessControllerFactory, config: Config, driver: StorageDriver, logger: Logger): Promise<AccessController> {
  if (config.berth?.auth !== undefined) throw new ConfigError(`berth.auth: applies to the built-in access controllers (silly, htpasswd, token), not to "${kind}"`);
  const controller = await factory(config.auth?.[kind] ?? {}, { logger: logger.child({ component: 'auth', controller: kind }), driver });
  if (typeof controller?.authorize !== 'function') throw new ConfigError(`auth.${kind}: the access controller built has no authorize method`);
  return controller;
}

function openHtpasswd(path: string, key: string, log: Logger): HtpasswdFile {
  try {
    return new HtpasswdFile(path, log);
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${path}: ${(err as Error).message}`);
  }
}
