import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../oci/errors.js';
import { peerOf } from '../peer.js';
import { formatScope, toScopes } from './scope.js';
import type { Access } from './types.js';

/** A quoted-string for an auth-param (RFC 9110): backslash and double quote escaped. */
export function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

export function basicChallenge(realm: string, message: string): RegistryError {
  return new RegistryError('UNAUTHORIZED', message, undefined, { headers: { 'WWW-Authenticate': `Basic realm=${quote(realm)}` } });
}

export type BearerError = 'invalid_token' | 'insufficient_scope' | undefined;

/**
 * `Bearer realm="…",service="…",scope="…"[,error="…"]` as Distribution writes it (no spaces
 * after the commas; several scopes separated by a space inside the one scope value).
 */
export function bearerChallenge(realm: string, service: string, needed: readonly Access[], error: BearerError, message: string): RegistryError {
  let value = `Bearer realm=${quote(realm)},service=${quote(service)}`;
  const scope = toScopes(needed).map(formatScope).join(' ');
  if (scope) value += `,scope=${quote(scope)}`;
  if (error) value += `,error=${quote(error)}`;
  return new RegistryError('UNAUTHORIZED', message, undefined, { headers: { 'WWW-Authenticate': value } });
}

/** The realm for `autoredirect`: this request's own scheme and host with the token path. */
export function selfRealm(req: IncomingMessage, path: string): string {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim() || (peerOf(req).encrypted ? 'https' : 'http');
  const host = req.headers.host ?? req.headers[':authority'];
  return `${proto}://${typeof host === 'string' ? host : 'localhost'}${path}`;
}
