import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { Notifier } from '../notifications/notifier.js';
import type { Registry } from '../storage/registry.js';

/** What every handler gets: the request, its parsed route, and the registry it acts on. */
export interface Context {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly query: URLSearchParams;
  readonly registry: Registry;
  readonly config: Config;
  /** Logs with this request's id on every line. */
  readonly log: Logger;
  /** The request id: the client's X-Request-Id when sane, else generated; sent back in X-Request-Id. */
  readonly id: string;
  /** The authenticated user, once the access controller has said who it is (used in events). */
  readonly actor?: string | undefined;
  /** Where handlers report pushes, pulls, mounts and deletes; undefined when notifications are off. */
  readonly events?: Notifier | undefined;
  /** Builds the URL for a registry path ("/v2/…"), absolute unless http.relativeurls. */
  url(path: string): string;
}

export const API_VERSION_HEADER = 'Docker-Distribution-API-Version';

/** Ends a response without a body. */
export function sendEmpty(ctx: Context, status: number, headers: Record<string, string | number> = {}): void {
  ctx.res.writeHead(status, { 'Content-Length': 0, ...headers });
  ctx.res.end();
}

export function sendJson(ctx: Context, status: number, body: unknown, headers: Record<string, string | number> = {}, contentType = 'application/json'): void {
  const data = Buffer.from(JSON.stringify(body));
  ctx.res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': data.length, ...headers });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : data);
}

/** Whether the request carries a body (a declared non-zero length, or chunked transfer). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** Reads a small body whole, refusing more than `limit` bytes. Undefined when it is too large. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
