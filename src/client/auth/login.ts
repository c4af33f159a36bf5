/**
 * Saving and forgetting credentials as `docker login` and `docker logout` do, in the Docker
 * config file ($DOCKER_CONFIG/config.json, else ~/.docker/config.json), which every tool the
 * default store reads (auth/credentials.ts) also reads. When the file names a credential helper
 * for the host (`credHelpers`) or for all hosts (`credsStore`), the secret goes to the helper and
 * the file keeps no password. Otherwise `auths[host].auth` holds base64 of `user:password`, as
 * Docker writes it. Everything else in the file is kept; it is rewritten to a temporary name
 * (mode 0600) and renamed, so a killed process never leaves half a file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ClientError } from '../errors.js';
import { normaliseKey } from './credentials.js';
import { eraseWithHelper, storeWithHelper } from './helper.js';

export interface LoginFileOptions {
  /** The config file (default: dockerConfigFile(env)). */
  file?: string;
  env?: NodeJS.ProcessEnv;
}

export interface SavedCredentials {
  file: string;
  /** The credential helper that holds the secret, when one does. */
  helper?: string;
}

type ConfigDoc = Record<string, unknown> & { auths?: Record<string, Record<string, unknown>>; credHelpers?: Record<string, string>; credsStore?: string };

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.DOCKER_CONFIG ?? path.join(env.HOME ?? os.homedir(), '.docker'), 'config.json');
}

async function readConfig(file: string): Promise<ConfigDoc> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ClientError(`cannot read ${file}: ${(err as Error).message}`, { code: 'CREDENTIALS_INVALID', cause: err });
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
    return doc as ConfigDoc;
  } catch (err) {
    throw new ClientError(`${file} is not a Docker config file: ${(err as Error).message}`, { code: 'CREDENTIALS_INVALID', cause: err });
  }
}

async function writeConfig(file: string, doc: ConfigDoc): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(doc, null, '\t')}\n`, { mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** The helper the file names for `host`, if any. */
function helperFor(doc: ConfigDoc, host: string): string | undefined {
  const want = normaliseKey(host).host;
  return Object.entries(doc.credHelpers ?? {}).find(([k]) => normaliseKey(k).host === want)?.[1] ?? doc.credsStore;
}

/** The key Docker writes for a host (Docker Hub's historical URL for docker.io). */
function keyFor(host: string): string {
  return normaliseKey(host).host === 'docker.io' ? 'https://index.docker.io/v1/' : host;
}

/** Entries of `auths` for exactly this host (any scheme or /v1/, /v2/ suffix; not repository-scoped ones). */
function keysOf(doc: ConfigDoc, host: string): string[] {
  const want = normaliseKey(host).host;
  return Object.keys(doc.auths ?? {}).filter((k) => {
    const n = normaliseKey(k);
    return n.host === want && n.prefix === '';
  });
}

/** Saves a username and password for `host` (after the caller has checked them against the registry). */
export async function saveCredentials(host: string, cred: { username: string; password: string }, o: LoginFileOptions = {}): Promise<SavedCredentials> {
  const env = o.env ?? process.env;
  const file = o.file ?? dockerConfigFile(env);
  const doc = await readConfig(file);
  const helper = helperFor(doc, host);
  const auths = { ...(doc.auths ?? {}) };
  for (const k of keysOf(doc, host)) delete auths[k];
  if (helper) {
    await storeWithHelper(helper, keyFor(host), cred.username, cred.password, env);
    // Docker leaves an empty entry, so that `docker info` and others list the login.
    auths[keyFor(host)] = {};
  } else {
    auths[keyFor(host)] = { auth: Buffer.from(`${cred.username}:${cred.password}`).toString('base64') };
  }
  await writeConfig(file, { ...doc, auths });
  return { file, helper };
}

/** Forgets `host`'s credentials: its `auths` entries, and the helper's copy. Whether there were any. */
export async function removeCredentials(host: string, o: LoginFileOptions = {}): Promise<SavedCredentials & { removed: boolean }> {
  const env = o.env ?? process.env;
  const file = o.file ?? dockerConfigFile(env);
  const doc = await readConfig(file);
  const keys = keysOf(doc, host);
  const helper = helperFor(doc, host);
  if (helper) await eraseWithHelper(helper, keyFor(host), env);
  if (keys.length > 0) {
    const auths = { ...(doc.auths ?? {}) };
    for (const k of keys) delete auths[k];
    await writeConfig(file, { ...doc, auths });
  }
  return { file, helper, removed: keys.length > 0 };
}
