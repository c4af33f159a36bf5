/**
 * login/logout as `docker login` does them: the credentials are checked against the registry
 * (`GET /v2/`, answering its Basic or Bearer challenge with them) before they are saved, so a
 * typo is refused at once instead of at the next push.
 */
import type { Credential } from './auth/credentials.js';
import { removeCredentials, saveCredentials, type LoginFileOptions, type SavedCredentials } from './auth/login.js';
import { Registry, type ClientOptions } from './remote/registry.js';

export interface LoginOptions extends LoginFileOptions {
  /** Connections and TLS for the check (credentials given here are ignored). */
  client?: Omit<ClientOptions, 'credentials' | 'client'>;
  signal?: AbortSignal;
}

/** Checks `username`/`password` against `host`, then saves them (see auth/login.ts for where). */
export async function login(host: string, cred: { username: string; password: string }, o: LoginOptions = {}): Promise<SavedCredentials> {
  const registry = new Registry(host, { ...o.client, credentials: cred satisfies Credential });
  try {
    await registry.ping({ signal: o.signal });
  } finally {
    registry.close();
  }
  return saveCredentials(host, cred, o);
}

/** Forgets `host`'s saved credentials; `removed` says whether there were any in the file. */
export function logout(host: string, o: LoginFileOptions = {}): Promise<SavedCredentials & { removed: boolean }> {
  return removeCredentials(host, o);
}
