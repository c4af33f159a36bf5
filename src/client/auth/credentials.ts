/**
 * Where credentials come from, apart from how they are used (auth/client.ts). A store answers
 * for a registry host, and for a repository where the file says so (containers' auth.json may
 * hold `host/namespace` keys; the longest match wins).
 *
 * The default store reads, in this order (podman's), the first file that names the host:
 *   $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json;
 *   ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json;
 *   $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
 * Within a file: `credHelpers[host]`, then an `auths` entry holding credentials, then
 * `credsStore`. Files are read on each look-up (a login elsewhere takes effect at once); a file
 * that does not exist is skipped, one that is not JSON is an error naming it.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ClientError } from '../errors.js';
import { runHelper } from './helper.js';

export type Credential =
  | { username: string; password: string }
  /** An OAuth2 refresh token (`identitytoken`), traded at the token endpoint. */
  | { identityToken: string }
  /** A bearer token sent as it is (`registrytoken`). */
  | { registryToken: string };

export interface CredentialStore {
  get(host: string, repository?: string): Promise<Credential | undefined>;
}

/** Credentials given in code: by host (`host[:port]`), or one for every host. */
export function staticCredentials(byHost: Record<string, Credential> | Credential): CredentialStore {
  if ('username' in byHost || 'identityToken' in byHost || 'registryToken' in byHost) {
    const one = byHost as Credential;
    return { get: async () => one };
  }
  const map = byHost as Record<string, Credential>;
  return { get: async (host) => map[host] };
}

/** The first store that has credentials for the host. */
export function chainStores(...stores: CredentialStore[]): CredentialStore {
  return {
    async get(host, repository) {
      for (const s of stores) {
        const c = await s.get(host, repository);
        if (c) return c;
      }
      return undefined;
    },
  };
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** A key of `auths` as a host plus optional repository prefix: scheme, `/v1/`, `/v2/` dropped. */
export function normaliseKey(key: string): { host: string; prefix: string } {
  const bare = key.replace(/^[a-z]+:\/\//, '').replace(/\/v[12]\/?$/, '').replace(/\/+$/, '');
  const slash = bare.indexOf('/');
  const host = slash < 0 ? bare : bare.slice(0, slash);
  return { host: DOCKER_HUB.has(host) ? 'docker.io' : host, prefix: slash < 0 ? '' : bare.slice(slash + 1) };
}

function decodeEntry(e: AuthEntry, file: string, key: string): Credential | undefined {
  if (e.identitytoken) return { identityToken: e.identitytoken };
  if (e.registrytoken) return { registryToken: e.registrytoken };
  if (e.auth) {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) throw new ClientError(`${file}: auths["${key}"].auth is not base64 of user:password`, { code: 'CREDENTIALS_INVALID' });
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (e.username !== undefined && e.password !== undefined) return { username: e.username, password: e.password };
  return undefined;
}

/** One Docker config.json or containers auth.json. */
export function authFileStore(file: string, env: NodeJS.ProcessEnv = process.env): CredentialStore {
  return {
    async get(host, repository = '') {
      let doc: AuthFile;
      try {
        doc = JSON.parse(await readFile(file, 'utf8')) as AuthFile;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
        throw new ClientError(`cannot read credentials from ${file}: ${(err as Error).message}`, { code: 'CREDENTIALS_INVALID', cause: err });
      }
      const want = normaliseKey(host).host;
      const helper = Object.entries(doc.credHelpers ?? {}).find(([k]) => normaliseKey(k).host === want)?.[1];
      if (helper) return runHelper(helper, host, env);
      let best: { cred: Credential; prefix: string } | undefined;
      for (const [key, entry] of Object.entries(doc.auths ?? {})) {
        const k = normaliseKey(key);
        if (k.host !== want) continue;
        if (k.prefix && repository !== k.prefix && !repository.startsWith(`${k.prefix}/`)) continue;
        const cred = decodeEntry(entry ?? {}, file, key);
        if (cred && (!best || k.prefix.length > best.prefix.length)) best = { cred, prefix: k.prefix };
      }
      if (best) return best.cred;
      if (doc.credsStore) return runHelper(doc.credsStore, want === 'docker.io' ? 'https://index.docker.io/v1/' : host, env);
      return undefined;
    },
  };
}

/** The files the default store reads, in order. */
export function defaultAuthFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME ?? os.homedir();
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  else if (env.XDG_RUNTIME_DIR) files.push(path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'containers', 'auth.json'));
  files.push(path.join(env.DOCKER_CONFIG ?? path.join(home, '.docker'), 'config.json'));
  return files;
}

/** Credentials as docker, podman and skopeo find them (see the top of this file). */
export function defaultCredentialStore(env: NodeJS.ProcessEnv = process.env): CredentialStore {
  return chainStores(...defaultAuthFiles(env).map((f) => authFileStore(f, env)));
}
