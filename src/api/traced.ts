import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { TRACE_IDS, type TraceIds } from '../log.js';
import type { Tracer } from '../tracing/index.js';
import { matchRoute, parseTarget, ROUTE_TEMPLATES, type Route } from './router.js';

/**
 * The request span (src/tracing, only when tracing is on): one server span per request, a child
 * of the request's `traceparent` when it has one, active while the request is handled so that
 * storage, upstream, redis and token spans become its children. Named `<METHOD> <route template>`
 * with OpenTelemetry's HTTP attributes plus the repository and reference; failed for a 5xx.
 */

const READ = Symbol('berth.traceBytesRead');
const WRITTEN = Symbol('berth.traceBytesWritten');
type CountedSocket = Socket & { [READ]?: number; [WRITTEN]?: number };

export function tracedHandler(handler: RequestListener, tracer: Tracer, prefix: string): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const query = target.indexOf('?');
    const userAgent = req.headers['user-agent'];
    const span = tracer.startRequestSpan(method, req.headers, {
      'http.request.method': method,
      // The path only: a query can carry an upload's signed state.
      'url.path': query === -1 ? target : target.slice(0, query),
      'network.protocol.version': req.httpVersion,
      'client.address': req.socket?.remoteAddress,
      'user_agent.original': typeof userAgent === 'string' ? userAgent : undefined,
      'http.request.body.size': req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']),
    });
    (req as IncomingMessage & { [TRACE_IDS]?: TraceIds })[TRACE_IDS] = { trace_id: span.traceId, span_id: span.spanId };
    const socket = req.httpVersionMajor === 1 ? (req.socket as CountedSocket | null) : null;
    res.once('close', () => {
      try {
        const route = routeOf(target, prefix);
        if (route) {
          span.updateName(`${method} ${ROUTE_TEMPLATES[route.kind]}`);
          span.setAttribute('http.route', ROUTE_TEMPLATES[route.kind]);
          if ('name' in route) span.setAttribute('registry.repository', route.name);
          const reference = 'reference' in route ? route.reference : 'digest' in route ? route.digest : undefined;
          if (reference !== undefined) span.setAttribute('registry.reference', reference);
        }
        span.setAttribute('http.response.status_code', res.statusCode);
        const header = (res as { _header?: string | null })._header;
        if (socket && typeof socket.bytesWritten === 'number') {
          // Bytes of this request on its connection (earlier requests on it are subtracted).
          const read = socket.bytesRead - (socket[READ] ?? 0);
          const written = socket.bytesWritten - (socket[WRITTEN] ?? 0);
          socket[READ] = socket.bytesRead;
          socket[WRITTEN] = socket.bytesWritten;
          span.setAttribute('http.request.size', read);
          span.setAttribute('http.response.size', written);
          span.setAttribute('http.response.body.size', Math.max(0, written - (header ? header.length : 0)));
        }
        if (!res.writableFinished) span.setAttribute('error.type', 'response not completed');
        if (res.statusCode >= 500) span.fail(`HTTP ${res.statusCode}`);
      } finally {
        span.end();
      }
    });
    tracer.withSpan(span, () => handler(req, res));
  };
}

function routeOf(target: string, prefix: string): Route | undefined {
  try {
    const parsed = parseTarget(target, prefix);
    return parsed ? matchRoute(parsed.path) : undefined;
  } catch {
    return undefined; // an invalid name: the span keeps the method alone as its name
  }
}
