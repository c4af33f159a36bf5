import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { SignJWT } from 'jose';
import type { Logger } from 'pino';
import { ConfigError } from '../config/errors.js';
import { RegistryError } from '../oci/errors.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import type { StorageDriver } from '../storage/driver/types.js';
import type { PasswordCheck } from './basic.js';
import { basicChallenge } from './challenge.js';
import type { IssuerSettings } from './config.js';
import { authorization } from './credentials.js';
import type { Permissions } from './permissions.js';
import { parseScopes, type Scope } from './scope.js';
import { REPOSITORY_ACTIONS } from './types.js';

/** Where the signing key lives when no `key` path is configured: in the storage, beside Distribution's tree. */
export const DRIVER_KEY_PATH = '/berth/auth/token-signing-key.pem';
const MAX_FORM_BYTES = 64 * 1024;

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  alg: string;
}

/**
 * Berth's own token server (`berth.auth.tokenissuer`), for `auth.token`: GET (Docker token
 * spec: Basic credentials, `service`, repeated `scope`) or POST (OAuth2 password grant) on the
 * configured path answers with a short-lived JWT whose `access` claim holds the part of the
 * requested scopes the caller is allowed: by `berth.auth.permissions` when configured, otherwise
 * everything for any user in the htpasswd file. Requests without credentials get the scopes
 * anonymous callers may have (possibly none). Wrong credentials are 401, rate-limited per client
 * address and user; unknown scope grammar or an invalid repository name is 400.
 */
export class TokenIssuer {
  constructor(
    readonly settings: IssuerSettings,
    private readonly token: { issuer: string; service: string },
    readonly key: SigningKey & { kid: string },
    private readonly passwords: PasswordCheck,
    private readonly permissions: Permissions | undefined,
    private readonly log: Logger,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST') throw new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: 'GET, POST' } });
    let params = query;
    let user: string | undefined;
    const reject = (message: string) => basicChallenge(this.token.service, message);
    if (method === 'POST') {
      params = await readForm(req);
      const grant = params.get('grant_type');
      if (grant !== 'password') throw new RegistryError('UNSUPPORTED', `unsupported grant_type ${JSON.stringify(grant ?? '')} (only password)`, undefined, { status: 400 });
      const name = params.get('username') ?? '';
      const password = params.get('password') ?? '';
      // An empty user and password is an anonymous caller, as `Basic Og==` is on GET.
      if (name !== '' || password !== '') user = await this.passwords.check(req, Buffer.from(`${name}:${password}`).toString('base64'), reject);
    } else {
      const auth = authorization(req);
      if (auth) {
        if (auth.scheme !== 'basic') throw reject('Basic credentials required');
        user = await this.passwords.check(req, auth.value, reject);
      }
    }
    const service = params.get('service');
    if (service !== null && service !== this.token.service) {
      throw new RegistryError('UNSUPPORTED', `unknown service ${JSON.stringify(service)}`, undefined, { status: 400 });
    }
    const requested = parseScopes(method === 'POST' ? [params.get('scope') ?? ''] : params.getAll('scope'));
    const access = this.grant(user, requested).map((s) => ({ type: s.type, name: s.name, actions: s.actions }));
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = Math.floor(this.settings.expirationMs / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: this.key.alg, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.token.issuer)
      .setSubject(user ?? '')
      .setAudience(this.token.service)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + expiresIn)
      .setJti(randomUUID())
      .sign(this.key.privateKey);
    this.log.debug({ user, scopes: access.length }, 'token issued');
    const body = Buffer.from(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() }));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
    res.end(body);
  }

  /** The part of each requested scope the caller may have; scopes with nothing granted are left out. */
  grant(user: string | undefined, requested: readonly Scope[]): Scope[] {
    const out: Scope[] = [];
    for (const scope of requested) {
      let allowed: Set<string>;
      if (scope.type === 'repository') {
        allowed = this.permissions ? this.permissions.actions(user, scope.name) : new Set(user ? REPOSITORY_ACTIONS : []);
      } else if (scope.type === 'registry' && scope.name === 'catalog') {
        const open = this.permissions ? this.permissions.allows(user, { type: 'registry', name: 'catalog', action: '*' }) : user !== undefined;
        allowed = new Set(open ? ['*'] : []);
      } else continue;
      const actions = new Set<string>();
      for (const a of scope.actions) {
        if (a === '*') {
          if (scope.type === 'registry' || REPOSITORY_ACTIONS.every((x) => allowed.has(x))) actions.add('*');
          else for (const x of allowed) actions.add(x);
        } else if (allowed.has(a)) actions.add(a);
      }
      if (actions.size > 0) out.push({ type: scope.type, name: scope.name, actions: [...actions] });
    }
    return out;
  }
}

/**
 * The posted form, refused with 413 once it is larger than MAX_FORM_BYTES, as declared (before
 * reading any of it) or as sent. The rest is not read, so an HTTP/1 connection closes after the answer.
 */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const tooLarge = () => new RegistryError('UNSUPPORTED', 'form too large', undefined, { status: 413, ...(req.httpVersionMajor === 1 ? { headers: { Connection: 'close' } } : {}) });
  if (Number(req.headers['content-length'] ?? 0) > MAX_FORM_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * The issuer's signing key: read from `path` (or the storage driver), or generated on first start
 * (ECDSA P-256) and stored there. RSA, P-384 and Ed25519 keys placed there by hand work too.
 */
export async function loadSigningKey(path: string | undefined, driver: StorageDriver, log: Logger): Promise<SigningKey> {
  let pem: string | undefined;
  const where = path ?? `storage ${DRIVER_KEY_PATH}`;
  if (path) {
    try {
      pem = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`berth.auth.tokenissuer.key: cannot read ${path}: ${(err as Error).message}`);
    }
  } else {
    try {
      pem = (await driver.getContent(DRIVER_KEY_PATH)).toString('utf8');
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
  }
  if (pem === undefined) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    if (path) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
    } else await driver.putContent(DRIVER_KEY_PATH, Buffer.from(pem));
    log.info({ where }, 'token issuer: generated a new signing key');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new ConfigError(`berth.auth.tokenissuer.key: ${where} does not hold a usable private key: ${(err as Error).message}`);
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, alg: algorithmFor(privateKey, where) };
}

function algorithmFor(key: KeyObject, where: string): string {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ES256';
    if (details?.namedCurve === 'secp384r1') return 'ES384';
    if (details?.namedCurve === 'secp521r1') return 'ES512';
  }
  throw new ConfigError(`berth.auth.tokenissuer.key: ${where} holds a ${key.asymmetricKeyType} key; use EC P-256/P-384/P-521, RSA or Ed25519`);
}
