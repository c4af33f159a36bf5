// Shared pieces of the mirror tests: Berth instances in-process (mirror and upstream), a small
// front server that forwards to an upstream while recording every request (or answers 5xx, or
// hangs), and an image pushed over HTTP.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/api/server.js';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function tempDir(label: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `berth-mirror-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeHtpasswd(file: string, users: Record<string, string>): void {
  writeFileSync(file, Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}\n`).join(''));
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export interface Berth {
  url: string;
  root: string;
  server: RunningServer;
  close(): Promise<void>;
}

/** A Berth on a free loopback port with filesystem storage at `root` and `extra` top-level YAML. */
export async function startBerth(root: string, extra = '', options: ServerOptions = {}): Promise<Berth> {
  const yaml = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${root}`,
    '  delete:',
    '    enabled: true',
    'http:',
    '  addr: 127.0.0.1:0',
    extra,
  ].join('\n');
  const { config } = parseConfig(yaml, {});
  const server = await startServer(config, pino({ level: 'silent' }), options);
  return { url: server.url, root, server, close: () => server.close() };
}

export interface Image {
  repo: string;
  tag: string;
  manifest: Buffer;
  manifestDigest: string;
  blobs: { data: Buffer; digest: string }[];
}

/** Pushes an OCI image (a config and `layers` random layers of `layerSize` bytes) to `url` (Berth or Distribution). */
export async function pushImage(url: string, repo: string, tag: string, opts: { layers?: number; layerSize?: number; headers?: Record<string, string> } = {}): Promise<Image> {
  const headers = opts.headers ?? {};
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, created: new Date().toISOString(), n: randomBytes(8).toString('hex') }));
  const layers = Array.from({ length: opts.layers ?? 1 }, () => randomBytes(opts.layerSize ?? 4096));
  const blobs = [config, ...layers].map((data) => ({ data, digest: sha256(data) }));
  for (const b of blobs) await pushBlob(url, repo, b.data, headers);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blobs[0]!.digest, size: config.length },
      layers: blobs.slice(1).map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: b.digest, size: b.data.length })),
    }),
  );
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { ...headers, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  if (res.status !== 201) throw new Error(`push manifest to ${url}/${repo}:${tag}: ${res.status} ${await res.text()}`);
  return { repo, tag, manifest, manifestDigest: sha256(manifest), blobs };
}

/** Pushes a blob with POST then PUT (Distribution 2.8.2 takes no single-POST upload); returns its digest. */
export async function pushBlob(url: string, repo: string, data: Buffer, headers: Record<string, string> = {}): Promise<string> {
  const digest = sha256(data);
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`start upload to ${url}/${repo}: ${start.status}`);
  const put = new URL(start.headers.get('location')!, url);
  put.searchParams.set('digest', digest);
  const res = await fetch(put, { method: 'PUT', headers: { ...headers, 'Content-Type': 'application/octet-stream' }, body: new Uint8Array(data) });
  if (res.status !== 201) throw new Error(`push blob to ${url}/${repo}: ${res.status} ${await res.text()}`);
  return digest;
}

export const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json';

/** GET (or HEAD) a manifest; returns status, digest header and body. */
export async function getManifest(url: string, repo: string, ref: string, method = 'GET'): Promise<{ status: number; digest: string | null; body: Buffer; json: unknown }> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${ref}`, { method, headers: { Accept: ACCEPT } });
  const body = Buffer.from(await res.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: res.status, digest: res.headers.get('docker-content-digest'), body, json };
}

export async function getBlob(url: string, repo: string, digest: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(`${url}/v2/${repo}/blobs/${digest}`, { headers });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** Pulls a whole image through `url` and checks every digest; returns the manifest digest. */
export async function pullImage(url: string, repo: string, ref: string): Promise<string> {
  const m = await getManifest(url, repo, ref);
  if (m.status !== 200) throw new Error(`pull ${repo}:${ref}: ${m.status} ${m.body.toString()}`);
  if (sha256(m.body) !== m.digest) throw new Error('manifest digest mismatch');
  const doc = m.json as { config: { digest: string }; layers: { digest: string }[] };
  for (const d of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
    const b = await getBlob(url, repo, d);
    if (b.status !== 200 || sha256(b.body) !== d) throw new Error(`pull blob ${d}: ${b.status}`);
  }
  return m.digest!;
}

export interface Recorded {
  method: string;
  path: string;
  authorization: string | undefined;
  /** The W3C trace context the mirror passed on (with tracing on). */
  traceparent: string | undefined;
}

export type FrontMode = 'forward' | 'fail' | 'hang' | 'down' | 'stall' | 'corrupt';

/**
 * A front for an upstream: forwards every request to `target` and records it, or (by `mode`)
 * answers 503, or accepts the request and never answers, or refuses connections ("down": the
 * listening socket is closed and reopened on the same port by setMode), or forwards blob bodies
 * but stops after their first chunk ("stall") or flips their first byte ("corrupt").
 */
export class Front {
  readonly requests: Recorded[] = [];
  mode: FrontMode = 'forward';
  /** Each request waits this long before it is forwarded: widens the window of concurrent fetches. */
  delayMs = 0;
  private server: http.Server;
  private port = 0;
  private readonly hung = new Set<http.ServerResponse>();

  constructor(public target: string) {
    this.server = this.create();
  }

  private create(): http.Server {
    return http.createServer((req, res) => {
      this.requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', authorization: req.headers.authorization, traceparent: req.headers.traceparent as string | undefined });
      if (this.mode === 'fail') {
        req.resume();
        res.writeHead(503, { 'Content-Type': 'text/plain' });
        res.end('upstream broken');
        return;
      }
      if (this.mode === 'hang') {
        req.resume();
        this.hung.add(res);
        return;
      }
      if (this.delayMs > 0) setTimeout(() => this.forward(req, res), this.delayMs);
      else this.forward(req, res);
    });
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const target = new URL(req.url ?? '/', this.target);
    // The Host header is kept: an upstream that builds URLs from it (token realm, Location)
    // sends clients back through the front.
    const mode = req.url?.includes('/blobs/sha256:') ? this.mode : 'forward';
    const out = http.request(target, { method: req.method, headers: req.headers }, (up) => {
      // A client (the mirror) that goes away mid-body must not leave the upstream's response
      // unread: the upstream would count it in flight forever and never finish closing.
      res.once('close', () => up.destroy());
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (mode === 'stall' || mode === 'corrupt') {
        up.once('data', (chunk: Buffer) => {
          if (mode === 'corrupt') {
            const copy = Buffer.from(chunk);
            copy[0] = copy[0]! ^ 0xff;
            res.write(copy);
            up.pipe(res);
          } else {
            res.write(chunk);
            up.destroy();
            this.hung.add(res);
          }
        });
        return;
      }
      up.pipe(res);
    });
    out.on('error', () => {
      res.destroy();
    });
    req.pipe(out);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async setMode(mode: FrontMode): Promise<void> {
    const wasDown = this.mode === 'down';
    this.mode = mode;
    if (mode === 'down' && !wasDown) await this.stop();
    if (mode !== 'down' && wasDown) {
      this.server = this.create();
      await this.start();
    }
  }

  count(method: string, pathPart: string): number {
    return this.requests.filter((r) => r.method === method && r.path.includes(pathPart)).length;
  }

  async stop(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
