import type { IncomingMessage } from 'node:http';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from 'pino';
import { bearerChallenge, selfRealm } from './challenge.js';
import type { ControllerSettings } from './config.js';
import { authorization } from './credentials.js';
import type { TrustedKeys } from './keys.js';
import type { Permissions } from './permissions.js';
import { AccessSet } from './scope.js';
import type { Access, AccessController, Grant } from './types.js';
import { traced } from '../tracing/index.js';

type TokenSettings = Extract<ControllerSettings, { kind: 'token' }>;

/** Clock skew allowed on exp and nbf, as Distribution allows. */
export const LEEWAY_SECONDS = 60;
const MAX_TOKEN_LENGTH = 16 * 1024;

/**
 * `auth.token`: bearer JWTs from a token server. The signature is checked against the configured
 * certificate bundle and JWK set (key found by `x5c` chain, `jwk`, or `kid`), the algorithm must
 * be one of `signingalgorithms` (`none` never is), `iss` must be the configured issuer, `aud`
 * must include the service, `exp` is required and `exp`/`nbf` are checked with 60 s of skew.
 * The `access` claim must cover everything the request needs; otherwise 401 with
 * `error="insufficient_scope"` and the scope needed.
 */
export class TokenController implements AccessController {
  readonly kind = 'token';

  constructor(
    private readonly settings: TokenSettings,
    private readonly keys: TrustedKeys,
    private readonly permissions: Permissions | undefined,
    private readonly log: Logger,
  ) {}

  realm(req: IncomingMessage): string {
    return this.settings.autoredirect ? selfRealm(req, this.settings.autoredirectpath) : this.settings.realm;
  }

  async authorize(req: IncomingMessage, needed: readonly Access[]): Promise<Grant> {
    const challenge = (error: 'invalid_token' | 'insufficient_scope' | undefined, message: string) =>
      bearerChallenge(this.realm(req), this.settings.service, needed, error, message);
    const auth = authorization(req);
    if (!auth || auth.scheme !== 'bearer' || auth.value === '') throw challenge(undefined, 'authentication required');
    const claims = await this.verify(auth.value);
    if (!claims) throw challenge('invalid_token', 'invalid token');
    const granted = new AccessSet();
    for (const entry of Array.isArray(claims.access) ? (claims.access as unknown[]) : []) {
      const e = entry as { type?: unknown; name?: unknown; actions?: unknown };
      if (typeof e?.type !== 'string' || typeof e.name !== 'string' || !Array.isArray(e.actions)) continue;
      granted.add(e.type, e.name, e.actions.filter((a): a is string => typeof a === 'string'));
    }
    if (!needed.every((a) => granted.allows(a))) throw challenge('insufficient_scope', 'insufficient scope');
    const user = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
    const perms = this.permissions;
    return perms ? { user, visible: (name) => perms.canPull(user, name) } : { user };
  }

  /** The verified claims, or undefined for any token that is malformed, untrusted or out of date. */
  verify(token: string): Promise<JWTPayload | undefined> {
    return traced('auth.token.verify', 'internal', {}, async (span) => {
      const claims = await this.check(token);
      span?.setAttribute('auth.token.valid', claims !== undefined);
      return claims;
    });
  }

  private async check(token: string): Promise<JWTPayload | undefined> {
    if (token.length > MAX_TOKEN_LENGTH) return undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (typeof header.alg !== 'string' || !this.settings.signingalgorithms.includes(header.alg)) {
        this.log.info({ alg: header.alg }, 'token refused: signing algorithm not allowed');
        return undefined;
      }
      const key = await this.signingKey(header as Record<string, unknown>);
      if (!key) {
        this.log.info({ kid: header.kid }, 'token refused: signed by an untrusted key');
        return undefined;
      }
      const { payload } = await jwtVerify(token, key, {
        algorithms: this.settings.signingalgorithms,
        issuer: this.settings.issuer,
        audience: this.settings.service,
        clockTolerance: LEEWAY_SECONDS,
        requiredClaims: ['exp'],
      });
      return payload;
    } catch (err) {
      this.log.info({ reason: (err as Error).message }, 'token refused');
      return undefined;
    }
  }

  private async signingKey(header: Record<string, unknown>): Promise<KeyObject | undefined> {
    if (header.x5c !== undefined) return this.keys.verifyChain(header.x5c);
    if (header.jwk !== undefined) {
      // An embedded key is trusted only when it is one of ours.
      const key = createPublicKey({ key: header.jwk as never, format: 'jwk' });
      const trusted = this.keys.byId.get(await calculateJwkThumbprint(key));
      return trusted && trusted.equals(key) ? trusted : undefined;
    }
    if (typeof header.kid === 'string') return this.keys.byId.get(header.kid);
    return undefined;
  }
}
