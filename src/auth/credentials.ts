import type { IncomingMessage } from 'node:http';
import { peerOf } from '../peer.js';

/** Longest user name and password accepted in Basic credentials (bcrypt reads 72 bytes anyway). */
const MAX_USER_BYTES = 256;
const MAX_PASSWORD_BYTES = 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export type BasicCredentials = { user: string; password: string };

/**
 * The Authorization header split into its scheme and parameter. Undefined when absent, or when it
 * is Basic with an empty user and password (`Basic Og==`): containers/image (skopeo, podman,
 * buildah) answers a Basic challenge with that when it has no credentials, and means anonymous.
 * Several Authorization headers cannot reach here (Node joins or rejects duplicates).
 */
export function authorization(req: IncomingMessage): { scheme: string; value: string } | undefined {
  const header = req.headers.authorization;
  if (header === undefined || header === '') return undefined;
  const space = header.indexOf(' ');
  if (space === -1) return { scheme: header.toLowerCase(), value: '' };
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'basic' && EMPTY_BASIC.has(value)) return undefined;
  return { scheme, value };
}

/** base64(":"), with and without its padding. */
const EMPTY_BASIC = new Set(['Og==', 'Og']);

/**
 * Decodes `Basic base64(user:password)`. Returns a reason string for anything malformed:
 * bad base64, no colon, empty user, control characters, bytes that are not UTF-8, or lengths
 * beyond any real credential.
 */
export function parseBasic(value: string): BasicCredentials | string {
  if (value.length > 4 * Math.ceil((MAX_USER_BYTES + MAX_PASSWORD_BYTES + 1) / 3)) return 'credentials too long';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return 'credentials are not base64';
  let text: string;
  try {
    text = utf8.decode(Buffer.from(value, 'base64'));
  } catch {
    return 'credentials are not UTF-8';
  }
  const colon = text.indexOf(':');
  if (colon === -1) return 'credentials lack a colon';
  const user = text.slice(0, colon);
  const password = text.slice(colon + 1);
  if (user === '') return 'empty user name';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(user)) return 'control characters in user name';
  if (Buffer.byteLength(user) > MAX_USER_BYTES || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return 'credentials too long';
  return { user, password };
}

/** The address failed logins are counted against: the peer, never a forwarded header a client can forge. */
export function clientAddress(req: IncomingMessage): string {
  return peerOf(req).address ?? 'unknown';
}
