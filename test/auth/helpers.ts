// Shared pieces of the auth tests: htpasswd files made with bcryptjs (cost 4, so tests stay fast),
// an in-process registry with an auth section, Basic headers, and a tiny image to push.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { defaultYaml, startRegistry, type Registry } from '../helpers/registry.js';

export function tempDir(label: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `berth-auth-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An htpasswd file with bcrypt entries (of `cost`, 4 by default) for `users` plus any raw `extra` lines. */
export function writeHtpasswd(file: string, users: Record<string, string>, extra: string[] = [], cost = 4): void {
  const lines = Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, cost)}`);
  writeFileSync(file, [...lines, ...extra, ''].join('\n'));
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** The default spec-test config plus `extra` top-level YAML (auth, berth). */
export function startWithAuth(extra: string): Promise<Registry> {
  return startRegistry({ yaml: defaultYaml({ extraYaml: extra }) });
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Pushes one blob and a manifest that names it as its config, with `headers` on every request. */
export async function pushImage(reg: Registry, repo: string, tag: string, headers: Record<string, string>): Promise<{ status: number; manifestDigest: string; blobDigest: string }> {
  const blob = Buffer.from(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"${repo}:${tag}"}`);
  const blobDigest = sha256(blob);
  const put = await reg.req('POST', `/v2/${repo}/blobs/uploads/?digest=${blobDigest}`, { headers: { ...headers, 'Content-Type': 'application/octet-stream' }, body: blob });
  if (put.status !== 201) return { status: put.status, manifestDigest: '', blobDigest };
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blobDigest, size: blob.length },
    layers: [],
  });
  const res = await reg.req('PUT', `/v2/${repo}/manifests/${tag}`, { headers: { ...headers, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  return { status: res.status, manifestDigest: sha256(manifest), blobDigest };
}
