import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { RegistryError } from '../oci/errors.js';

/**
 * The `_state` query parameter of upload Locations, in Distribution's format: base64url of
 * HMAC-SHA256(json) followed by the json {"Name","UUID","Offset","StartedAt"}, keyed with
 * http.secret. Instances sharing the secret accept each other's tokens, so an upload started on
 * one instance continues on any other (the bytes and their size live in storage; the token proves
 * the Location was issued by this registry for this repository and upload). A token that does
 * not verify — another secret, tampering, another repository or upload — is BLOB_UPLOAD_INVALID,
 * and so is a request without one (src/api/uploads.ts, as Distribution); its Offset is where the
 * upload stood when the Location was issued, which a PATCH or PUT must continue from.
 */
export interface UploadState {
  Name: string;
  UUID: string;
  Offset: number;
  StartedAt: string;
}

const MAC_BYTES = 32;

/** Distribution's rule: without http.secret each process makes up its own (and warns). */
const generated = new WeakMap<object, string>();
export function uploadSecret(http: { secret?: string | undefined }): string {
  if (http.secret) return http.secret;
  let secret = generated.get(http);
  if (!secret) {
    secret = randomBytes(32).toString('base64url');
    generated.set(http, secret);
  }
  return secret;
}

export function packUploadState(secret: string, state: UploadState): string {
  const json = Buffer.from(JSON.stringify(state));
  const mac = createHmac('sha256', secret).update(json).digest();
  return Buffer.concat([mac, json]).toString('base64url');
}

export function unpackUploadState(secret: string, token: string): UploadState | undefined {
  // Node's base64url decoder ignores padding and stops at a character outside its alphabet.
  const raw = Buffer.from(token, 'base64url');
  // timingSafeEqual needs a whole MAC to compare; a MAC alone carries no state.
  if (raw.length <= MAC_BYTES) return undefined;
  const mac = raw.subarray(0, MAC_BYTES);
  const json = raw.subarray(MAC_BYTES);
  const expected = createHmac('sha256', secret).update(json).digest();
  if (!timingSafeEqual(mac, expected)) return undefined;
  let state: Partial<UploadState> | null;
  try {
    state = JSON.parse(json.toString()) as Partial<UploadState> | null;
  } catch {
    return undefined;
  }
  return typeof state?.Name === 'string' && typeof state.UUID === 'string' && Number.isSafeInteger(state.Offset) && state.Offset! >= 0 ? (state as UploadState) : undefined;
}

/** Throws BLOB_UPLOAD_INVALID unless `token` was issued for this repository and upload. */
export function verifyUploadState(secret: string, token: string, name: string, id: string): UploadState {
  const state = unpackUploadState(secret, token);
  if (!state || state.Name !== name || state.UUID !== id) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'upload state token does not verify (instances must share http.secret)', { id });
  }
  return state;
}
