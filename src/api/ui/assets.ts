import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/types.js';
import type { Context } from '../context.js';

/**
 * The UI's files: built by scripts/build-ui.mjs into dist/ui (one level above both src/ and
 * dist/, so the server finds them whether it runs from source or from the build), read once at
 * start-up and served from memory. Asset names carry a content hash and are cached for a year;
 * the page itself is revalidated (ETag) so a new build is seen at once.
 */
export const UI_DIR = fileURLToPath(new URL('../../../dist/ui/', import.meta.url));
/** Where the page's scripts and styles are served, below `/` (and below http.prefix). */
export const ASSETS_PATH = '/_ui/';

interface File {
  body: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

export class Assets {
  private readonly files = new Map<string, File>();
  private readonly page: File;
  private readonly headers: Record<string, string>;

  constructor(config: Config, dir = UI_DIR) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // Not built: the page says so.
    }
    for (const name of names) {
      const type = TYPES[name.slice(name.lastIndexOf('.'))];
      if (!type || name === 'index.html') continue;
      this.files.set(name, file(readFileSync(`${dir}/${name}`), type, /-[A-Z0-9]{8,}\./i.test(name)));
    }
    const template = names.includes('index.html') ? readFileSync(`${dir}/index.html`, 'utf8') : NOT_BUILT;
    this.page = file(Buffer.from(template.replaceAll('%TITLE%', escapeHtml(config.ui?.title ?? 'Berth'))), TYPES['.html']!, false);
    this.headers = securityHeaders(config);
  }

  /** Serves the page (`/`, for a browser) or an asset; false when `path` is neither. */
  serve(ctx: Context, path: string): boolean {
    let f: File | undefined;
    if (path === '/') {
      // API clients asking for "/" get the same 404 as before the UI existed.
      if (!(ctx.req.headers.accept ?? '').includes('text/html')) return false;
      f = this.page;
    } else if (path.startsWith(ASSETS_PATH)) f = this.files.get(path.slice(ASSETS_PATH.length));
    if (!f) return false;
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return false;
    const headers: Record<string, string | number> = {
      ...this.headers,
      'Content-Type': f.type,
      ETag: f.etag,
      'Cache-Control': f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    if (ctx.req.headers['if-none-match'] === f.etag) {
      ctx.res.writeHead(304, headers);
      ctx.res.end();
      return true;
    }
    ctx.res.writeHead(200, { ...headers, 'Content-Length': f.body.length });
    ctx.res.end(ctx.method === 'HEAD' ? undefined : f.body);
    return true;
  }
}

function file(body: Buffer, type: string, immutable: boolean): File {
  return { body, type, immutable, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/**
 * Scripts and styles from this origin only (nothing inline, no external fonts or CDNs), data
 * fetched from this origin (and the token server, when that is elsewhere), never framed.
 */
function securityHeaders(config: Config): Record<string, string> {
  const connect = ["'self'"];
  const realm = config.auth?.token?.realm;
  if (typeof realm === 'string') {
    try {
      connect.push(new URL(realm).origin);
    } catch {
      // not a URL: only this origin
    }
  }
  return {
    'Content-Security-Policy': `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect.join(' ')}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const NOT_BUILT = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>%TITLE%</title></head><body><h1>%TITLE%</h1><p>The web UI is not built: run <code>npm run build</code>.</p></body></html>';
