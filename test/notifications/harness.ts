import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/api/server.js';
import { createLogger } from '../../src/log.js';

/** Shared by the notification, metrics and health suites: a real Berth, a real receiver, small images. */

export interface Berth extends RunningServer {
  /** JSON log lines written so far. */
  readonly logs: Record<string, unknown>[];
}

export async function startBerth(yaml: string, level: 'info' | 'warn' | 'debug' = 'info', options: ServerOptions = {}): Promise<Berth> {
  const { config } = parseConfig(`version: 0.1\n${yaml}`, {});
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger(
    { level, formatter: 'json', fields: {}, accesslog: config.log.accesslog },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const server = await startServer(config, logger, options);
  return Object.assign(server, { logs });
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Waits until `probe` returns a value other than undefined (polling), or fails after `ms`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: { events: Record<string, any>[] };
}

export type ReceiverMode = 'ok' | 'fail' | 'hang';

/** An HTTP endpoint that records what it is sent; its behaviour can be switched while running. */
export class Receiver {
  readonly received: Received[] = [];
  mode: ReceiverMode = 'ok';
  /** Requests that arrived while failing or hanging (not recorded as received). */
  refused = 0;
  private readonly hanging = new Set<http.ServerResponse>();
  private server!: http.Server;
  url = '';

  static async start(): Promise<Receiver> {
    const r = new Receiver();
    r.server = http.createServer((req, res) => r.handle(req, res));
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/events`;
    return r;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (this.mode === 'hang') {
        this.refused++;
        this.hanging.add(res);
        return;
      }
      if (this.mode === 'fail') {
        this.refused++;
        res.writeHead(500).end('no');
        return;
      }
      this.received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(200).end();
    });
  }

  /** Every event received, in order. */
  get events(): Record<string, any>[] {
    return this.received.flatMap((r) => r.body.events);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** Pushes a config blob (single POST) and a layer (POST, PATCH, PUT), then the manifest by tag. */
export async function pushImage(base: string, repo: string, tag: string, seed = 'x'): Promise<{ config: string; layer: string; manifest: string; manifestBody: Buffer; layerSize: number }> {
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layer = Buffer.from(`layer-${seed}-${'z'.repeat(100)}`);
  const config = sha256(cfg);
  let r = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${config}`, { method: 'POST', body: cfg, headers: { 'content-type': 'application/octet-stream' } });
  if (r.status !== 201) throw new Error(`config blob: ${r.status}`);
  r = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (r.status !== 202) throw new Error(`upload start: ${r.status}`);
  const location = new URL(r.headers.get('location')!, base).toString();
  r = await fetch(location, { method: 'PATCH', body: layer, headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${layer.length - 1}` } });
  if (r.status !== 202) throw new Error(`patch: ${r.status}`);
  const next = new URL(r.headers.get('location')!, base);
  next.searchParams.set('digest', sha256(layer));
  r = await fetch(next, { method: 'PUT' });
  if (r.status !== 201) throw new Error(`upload put: ${r.status}`);
  const manifestBody = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: cfg.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  r = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifestBody, headers: { 'content-type': OCI_MANIFEST } });
  if (r.status !== 201) throw new Error(`manifest: ${r.status} ${await r.text()}`);
  return { config, layer: sha256(layer), manifest: sha256(manifestBody), manifestBody, layerSize: layer.length };
}

/** Parses the Prometheus text format into name{labels} → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

/** The value of one series, labels given in any order. */
export function series(metrics: Map<string, number>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const [key, value] of metrics) {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key)!;
    if (m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return value;
  }
  return undefined;
}
