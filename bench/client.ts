/**
 * A small registry client over node:http: uploads sent from memory, pulls counted (and hashed
 * when asked), manifests, mounts and listings. Every call returns the status and headers so
 * scenarios can verify them. Bodies go to the socket as they are (Node writes a buffer without
 * copying it), so the client costs little more than the kernel's copy: it is not the limit.
 */
import { createHash, type Hash } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type BodySource =
  | { kind: 'none' }
  | { kind: 'buffers'; parts: Buffer[] };

export interface RequestOptions {
  method: string;
  url: string;
  headers?: Record<string, string | number>;
  body?: BodySource;
  agent?: Agent;
  /** Keep the response body (default true); when false, only count bytes. */
  keepBody?: boolean;
  /** Hash the response body with SHA-256 while it arrives. */
  hashBody?: boolean;
}

export interface FullReply extends Reply {
  bytes: number;
  sha256?: string;
}

function bodyLength(body: BodySource): number {
  switch (body.kind) {
    case 'none':
      return 0;
    case 'buffers':
      return body.parts.reduce((n, b) => n + b.length, 0);
  }
}

export function send(opts: RequestOptions): Promise<FullReply> {
  const body = opts.body ?? { kind: 'none' };
  const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
  if (body.kind !== 'none' || ['PUT', 'POST', 'PATCH'].includes(opts.method)) headers['Content-Length'] = bodyLength(body);
  return new Promise<FullReply>((resolve, reject) => {
    const req = request(opts.url, { method: opts.method, headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      const hash: Hash | undefined = opts.hashBody ? createHash('sha256') : undefined;
      const keep = opts.keepBody !== false;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (hash) hash.update(chunk);
        if (keep) chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          bytes,
          sha256: hash ? `sha256:${hash.digest('hex')}` : undefined,
        }),
      );
    });
    req.on('error', reject);
    if (body.kind === 'none') return req.end();
    for (let i = 0; i < body.parts.length - 1; i++) req.write(body.parts[i]);
    req.end(body.parts[body.parts.length - 1]);
  });
}

/** Resolve a Location header against the registry URL. */
export function location(base: string, reply: Reply): string {
  const loc = reply.headers.location;
  if (!loc) throw new Error(`no Location header (status ${reply.status})`);
  return new URL(loc, base).toString();
}

export function withQuery(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

export class ProtocolError extends Error {}

export function expectStatus(reply: Reply, expected: number, what: string): void {
  if (reply.status !== expected) {
    const text = reply.body.toString('utf8').slice(0, 300);
    throw new ProtocolError(`${what}: status ${reply.status}, expected ${expected} ${text}`);
  }
}

export function expectDigest(reply: Reply, digest: string, what: string): void {
  const got = reply.headers['docker-content-digest'];
  if (got !== digest) throw new ProtocolError(`${what}: Docker-Content-Digest ${String(got)}, expected ${digest}`);
}

/** POST an upload session; returns the absolute upload URL. */
export async function startUpload(base: string, repo: string, agent?: Agent): Promise<string> {
  const r = await send({ method: 'POST', url: `${base}/v2/${repo}/blobs/uploads/`, agent });
  expectStatus(r, 202, `POST upload ${repo}`);
  return location(base, r);
}

/** Monolithic push: POST, then PUT ?digest= with the whole body. Verifies 201 and the digest. */
export async function pushMonolithic(base: string, repo: string, digest: string, body: BodySource, agent?: Agent): Promise<void> {
  const upload = await startUpload(base, repo, agent);
  const r = await send({
    method: 'PUT',
    url: withQuery(upload, { digest }),
    headers: { 'Content-Type': 'application/octet-stream' },
    body,
    agent,
  });
  expectStatus(r, 201, `PUT blob ${repo}`);
  expectDigest(r, digest, `PUT blob ${repo}`);
}

/** Cross-repository mount; returns true when mounted (201), false when the server opened an upload instead (202). */
export async function mountBlob(base: string, repo: string, digest: string, from: string, agent?: Agent): Promise<boolean> {
  const r = await send({
    method: 'POST',
    url: withQuery(`${base}/v2/${repo}/blobs/uploads/`, { mount: digest, from }),
    agent,
  });
  if (r.status === 201) return true;
  expectStatus(r, 202, `mount ${digest} into ${repo}`);
  return false;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export function imageManifest(config: Descriptor, layers: Descriptor[]): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers }));
}

export function sha256(...parts: Buffer[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return `sha256:${h.digest('hex')}`;
}

export async function putManifest(base: string, repo: string, ref: string, manifest: Buffer, agent?: Agent): Promise<void> {
  const r = await send({
    method: 'PUT',
    url: `${base}/v2/${repo}/manifests/${ref}`,
    headers: { 'Content-Type': OCI_MANIFEST },
    body: { kind: 'buffers', parts: [manifest] },
    agent,
  });
  expectStatus(r, 201, `PUT manifest ${repo}:${ref}`);
  expectDigest(r, sha256(manifest), `PUT manifest ${repo}:${ref}`);
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
}
