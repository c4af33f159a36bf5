import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { accessLogger } from '../log.js';
import { accessFor, type Auth } from '../auth/index.js';
import type { Config } from '../config/types.js';
import { RegistryError } from '../errors.js';
import type { Registry } from '../storage/registry.js';
import { handleBlob } from './blobs.js';
import { API_VERSION_HEADER, type Context, sendJson } from './context.js';
import { sendError } from './errors.js';
import { handleCatalog, handleTags } from './listing.js';
import { handleManifest } from './manifests.js';
import { handleReferrers } from './referrers.js';
import { handleRepositoryDelete } from './repositories.js';
import { matchRoute, parseTarget, type Route } from './router.js';
import { handleUpload, handleUploadStart } from './uploads.js';

/** The request listener: routing, common headers, error rendering and the access log. */
export function createHandler(config: Config, registry: Registry, logger: Logger, auth?: Auth): { handler: RequestListener; inFlight: () => number } {
  let active = 0;
  const extraHeaders = Object.entries(config.http.headers);
  const prefix = config.http.prefix;
  const access = config.log.accesslog.disabled ? undefined : accessLogger(logger);

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    active++;
    const started = process.hrtime.bigint();
    res.setHeader(API_VERSION_HEADER, 'registry/2.0');
    for (const [name, values] of extraHeaders) res.setHeader(name, values);
    const method = req.method ?? 'GET';
    const ctx: Context = {
      req,
      res,
      method,
      query: new URLSearchParams(),
      registry,
      config,
      log: logger,
      url: (path) => urlFor(config, req, path),
    };
    res.once('close', () => {
      active--;
      if (access) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        access.info({ method, url: req.url, status: res.statusCode, ms: Math.round(ms * 10) / 10, remote: req.socket.remoteAddress }, 'request');
      }
    });
    dispatch(ctx, prefix, auth).catch((err) => sendError(ctx, logger, err));
  };
  return { handler, inFlight: () => active };
}

async function dispatch(ctx: Context, prefix: string, auth?: Auth): Promise<void> {
  const target = parseTarget(ctx.req.url ?? '/', prefix);
  if (!target) throw notFound();
  (ctx as { query: URLSearchParams }).query = target.query;
  const route = matchRoute(target.path);
  if (!route) {
    if (auth?.issuer && target.path === auth.issuer.settings.path) return auth.issuer.handle(ctx.req, ctx.res, target.query);
    throw notFound();
  }
  if (auth) {
    // Access is decided once the route is known and before its handler runs (src/auth/access.ts).
    const grant = await auth.controller.authorize(ctx.req, accessFor(route, ctx.method, target.query));
    // A mount without `from` could reach any blob by digest alone: with auth on it is a plain upload.
    if (route.kind === 'uploads' && !target.query.has('from')) target.query.delete('mount');
    if (route.kind === 'catalog' && grant.visible) return handleCatalog({ ...ctx, registry: visibleOnly(ctx.registry, grant.visible) });
  }
  return route.kind === 'base' ? base(ctx) : handle(ctx, route);
}

/** The registry as the catalog handler sees it for a caller who may list only some repositories. */
function visibleOnly(registry: Registry, visible: (name: string) => boolean): Registry {
  return Object.create(registry, { catalog: { value: async () => (await registry.catalog()).filter(visible) } }) as Registry;
}

function handle(ctx: Context, route: Exclude<Route, { kind: 'base' }>): Promise<void> {
  if (route.kind === 'catalog') return handleCatalog(ctx);
  const repo = ctx.registry.repository(route.name);
  switch (route.kind) {
    case 'tags':
      return handleTags(ctx, repo);
    case 'manifest':
      return handleManifest(ctx, repo, route.reference);
    case 'blob':
      if (!['GET', 'HEAD', 'DELETE'].includes(ctx.method)) throw methodNotAllowed('GET, HEAD, DELETE');
      return handleBlob(ctx, repo, route.digest);
    case 'uploads':
      return handleUploadStart(ctx, repo);
    case 'upload':
      return handleUpload(ctx, repo, route.id);
    case 'referrers':
      return handleReferrers(ctx, repo, route.digest);
    case 'repository':
      return handleRepositoryDelete(ctx, route.name);
  }
}

async function base(ctx: Context): Promise<void> {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw methodNotAllowed('GET, HEAD');
  sendJson(ctx, 200, {});
}

function notFound(): RegistryError {
  return new RegistryError('UNSUPPORTED', 'no such endpoint', undefined, { status: 404 });
}

function methodNotAllowed(allow: string): RegistryError {
  return new RegistryError('UNSUPPORTED', 'method not allowed', undefined, { headers: { Allow: allow } });
}

/** Location URLs: absolute from http.host or the request's host (as Distribution), or relative. */
function urlFor(config: Config, req: IncomingMessage, path: string): string {
  const full = `${config.http.prefix}${path}`;
  if (config.http.relativeurls) return full;
  if (config.http.host) return `${config.http.host.replace(/\/$/, '')}${full}`;
  const forwardedProto = firstValue(req.headers['x-forwarded-proto']);
  const proto = forwardedProto ?? ((req.socket as TLSSocket).encrypted ? 'https' : 'http');
  const host = firstValue(req.headers['x-forwarded-host']) ?? req.headers.host;
  return host ? `${proto}://${host}${full}` : full;
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0]?.trim() || undefined;
}
