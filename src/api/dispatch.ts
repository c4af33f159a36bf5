import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { accessLogger, REQUEST_ID, traceIds, type AccessLog } from '../log.js';
import { peerOf, type Peer } from '../peer.js';
import { accessFor } from '../auth/access.js';
import type { Auth } from '../auth/index.js';
import type { Config } from '../config/types.js';
import { RegistryError } from '../oci/errors.js';
import type { HealthChecks } from '../health/registry.js';
import type { HandlerKind, HttpMetrics, RequestCells } from '../metrics/http.js';
import type { Notifier } from '../notifications/notifier.js';
import type { Registry } from '../storage/registry.js';
import { handleBlob } from './blobs.js';
import { API_VERSION_HEADER, type Context, sendJson } from './context.js';
import { sendError } from './errors.js';
import { escapedFromRequest, withinRequest } from './guard.js';
import { handleCatalog, handleTags } from './listing.js';
import { handleManifest } from './manifests.js';
import { handleReferrers } from './referrers.js';
import { commonHeader, setCommonHeaders } from './response.js';
import { handleRepositoryDelete } from './repositories.js';
import { matchRoute, parseTarget, type Route } from './router.js';
import { handleUpload, handleUploadStart } from './uploads.js';
import { Ui, withoutBrowserPrompt } from './ui/index.js';

/** Optional operational parts: request metrics, health (503 while a check fails), notifications. */
export interface HandlerOptions {
  auth?: Auth;
  metrics?: HttpMetrics;
  health?: HealthChecks;
  notifier?: Notifier;
}

const REQUEST_ID_HEADER = 'X-Request-Id';
const API_VERSION = commonHeader(API_VERSION_HEADER, 'registry/2.0');
/** A client's X-Request-Id is kept when it looks like an id; anything else gets a fresh UUID. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:+=@/-]{1,128}$/;
const BYTES_READ = Symbol('berth.bytesRead');
const BYTES_WRITTEN = Symbol('berth.bytesWritten');
type CountedSocket = Socket & { [BYTES_READ]?: number; [BYTES_WRITTEN]?: number };

/** Per-server state shared by every request (so a request allocates no closures of its own). */
interface Shared {
  active: number;
  readonly logger: Logger;
  readonly access: AccessLog | undefined;
  readonly metrics: HttpMetrics | undefined;
}

/**
 * One request's context. A class so that `log` (a child logger carrying the request id) is made
 * only when something logs, and `url` is a shared method rather than a closure per request.
 */
class RequestContext implements Context {
  query = EMPTY_QUERY;
  kind: HandlerKind = 'none';
  /** The request's metric cells, once routed (with metrics on). */
  cells: RequestCells | undefined = undefined;
  actor: string | undefined = undefined;
  private child: Logger | undefined = undefined;
  readonly started = performance.now();
  /** Read once now: the access log and metrics run after the response, when req.socket is gone. */
  readonly peer: Peer;
  readonly target: string;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly method: string,
    readonly registry: Registry,
    readonly config: Config,
    readonly id: string,
    readonly events: Notifier | undefined,
    readonly shared: Shared,
  ) {
    this.peer = peerOf(req);
    this.target = req.url ?? '/';
  }

  get log(): Logger {
    return (this.child ??= this.shared.logger.child({ reqId: this.id, ...traceIds(this.req) }));
  }

  url(path: string): string {
    return urlFor(this.config, this.req, this.peer, path);
  }
}

const EMPTY_QUERY = new URLSearchParams();
const CONTEXT = Symbol('berth.context');
const CLOSED_UNANSWERED = 499;

/**
 * The response's 'close' listener, shared by all requests: in-flight count, metrics, access log.
 * It runs after the response, so it reads only what the context captured while the request was
 * alive (never req.socket), and nothing it does can throw out of it.
 */
function finished(this: ServerResponse): void {
  const ctx = (this as ServerResponse & { [CONTEXT]: RequestContext })[CONTEXT];
  const { shared } = ctx;
  shared.active--;
  try {
    const ms = performance.now() - ctx.started;
    // Nothing was sent before the connection closed: 499, as nginx logs it, not Node's default 200.
    const status = this.headersSent ? this.statusCode : CLOSED_UNANSWERED;
    if (shared.metrics) {
      const [bytesIn, bytesOut] = socketBytes(ctx.peer.socket as CountedSocket | undefined);
      // The body alone, as Distribution counts it: what was written less the header block.
      const header = (this as { _header?: string | null })._header;
      const bodyOut = Math.max(0, bytesOut - (header ? header.length : 0));
      shared.metrics.record(ctx.cells, ctx.kind, ctx.method, status, ms / 1000, bytesIn, bodyOut);
    }
    if (shared.access) {
      const line = { reqId: ctx.id, method: ctx.method, url: ctx.target, status, ms: Math.round(ms * 10) / 10, remote: ctx.peer.address };
      const trace = traceIds(ctx.req);
      shared.access.write(trace ? { ...line, ...trace } : line);
    }
  } catch (err) {
    ctx.log.error({ err }, 'request metrics or access log failed');
  }
}

/** Bytes the connection carried since the last request on it finished (counters outlive the socket). */
function socketBytes(socket: CountedSocket | undefined): [number, number] {
  if (!socket) return [0, 0];
  const read = socket.bytesRead || 0;
  const written = socket.bytesWritten || 0;
  const counted: [number, number] = [read - (socket[BYTES_READ] ?? 0), written - (socket[BYTES_WRITTEN] ?? 0)];
  socket[BYTES_READ] = read;
  socket[BYTES_WRITTEN] = written;
  return counted;
}

function enabledOnly(log: AccessLog): AccessLog | undefined {
  return log.enabled ? log : undefined;
}

/** The request listener: request ids, routing, common headers, error rendering, metrics and the access log. */
export function createHandler(config: Config, registry: Registry, logger: Logger, options: HandlerOptions = {}): { handler: RequestListener; inFlight: () => number } {
  const { auth, metrics, health } = options;
  const notifier = options.notifier?.active ? options.notifier : undefined;
  const shared: Shared = { active: 0, logger, access: config.log.accesslog.disabled ? undefined : enabledOnly(accessLogger(logger)), metrics };
  const extraHeaders = Object.entries(config.http.headers).map(([name, values]) => commonHeader(name, values));
  const prefix = config.http.prefix;
  const ui = new Ui(config, registry, auth);

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    (req as IncomingMessage & { [REQUEST_ID]?: string })[REQUEST_ID] = id;
    const ctx = new RequestContext(req, res, req.method ?? 'GET', registry, config, id, notifier, shared);
    (res as ServerResponse & { [CONTEXT]: RequestContext })[CONTEXT] = ctx;
    shared.active++;
    res.once('close', finished);
    withinRequest(ctx, () => {
      try {
        setCommonHeaders(res, [API_VERSION, commonHeader(REQUEST_ID_HEADER, id), ...extraHeaders]);
        if (health && !health.healthy && req.url !== '/') {
          // As Distribution: every request but "/" answers 503 while a health check fails.
          sendError(ctx, ctx.log, new RegistryError('UNAVAILABLE', 'service unavailable', 'health check failed: please see /debug/health'));
          return;
        }
        run(ctx, prefix, auth, ui).catch((err: unknown) => escapedFromRequest(ctx, err, 'error handling'));
      } catch (err) {
        escapedFromRequest(ctx, err, 'request start');
      }
    });
  };
  return { handler, inFlight: () => shared.active };
}

async function run(ctx: RequestContext, prefix: string, auth: Auth | undefined, ui: Ui): Promise<void> {
  try {
    await dispatch(ctx, prefix, auth, ui);
  } catch (err) {
    sendError(ctx, ctx.log, withoutBrowserPrompt(ctx.req, err));
  }
}

async function dispatch(ctx: RequestContext, prefix: string, auth: Auth | undefined, ui: Ui): Promise<void> {
  const target = parseTarget(ctx.req.url ?? '/', prefix);
  if (!target) throw notFound();
  ctx.query = target.query;
  const route = matchRoute(target.path);
  if (!route) {
    if (auth?.issuer && target.path === auth.issuer.settings.path) return auth.issuer.handle(ctx.req, ctx.res, target.query);
    if (ui.page(ctx, target.path)) return;
    throw notFound();
  }
  ctx.kind = route.kind;
  ctx.cells = ctx.shared.metrics?.begin(route.kind, ctx.method);
  // The session endpoint asks the access controller itself (it answers anonymous callers too).
  if (auth && route.kind !== 'session') {
    // Access is decided once the route is known and before its handler runs (src/auth/access.ts).
    const grant = await auth.controller.authorize(ctx.req, accessFor(route, ctx.method, target.query));
    ctx.actor = grant.user;
    // A mount without `from` could reach any blob by digest alone: with auth on it is a plain upload.
    if (route.kind === 'uploads' && !target.query.has('from')) target.query.delete('mount');
    if (route.kind === 'catalog' && grant.visible) return handleCatalog(ctx, grant.visible);
    if (route.kind === 'repositories') return ui.handle(ctx, route, grant.visible);
  }
  return route.kind === 'base' ? base(ctx) : handle(ctx, route, ui);
}

function handle(ctx: Context, route: Exclude<Route, { kind: 'base' }>, ui: Ui): Promise<void> {
  switch (route.kind) {
    case 'catalog':
      return handleCatalog(ctx);
    case 'session':
    case 'repositories':
    case 'image':
    case 'referrer-tree':
      return ui.handle(ctx, route);
    case 'repository':
      return ctx.method === 'DELETE' ? handleRepositoryDelete(ctx, ctx.registry.repository(route.name)) : ui.handle(ctx, route);
  }
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
function urlFor(config: Config, req: IncomingMessage, peer: Peer, path: string): string {
  const full = `${config.http.prefix}${path}`;
  if (config.http.relativeurls) return full;
  if (config.http.host) return `${config.http.host.replace(/\/$/, '')}${full}`;
  const forwardedProto = firstValue(req.headers['x-forwarded-proto']);
  const proto = forwardedProto ?? (peer.encrypted ? 'https' : 'http');
  const host = firstValue(req.headers['x-forwarded-host']) ?? req.headers.host ?? firstValue(req.headers[':authority']);
  return host ? `${proto}://${host}${full}` : full;
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0]?.trim() || undefined;
}
