import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { collectProcessMetrics, metricsRegistry } from '../metrics/registry.js';

/** What /debug/health shows and sets: this process's HealthChecks, or with workers the whole (src/cluster/primary.ts). */
export interface HealthView {
  /** Failing checks by name → reason; empty when healthy. */
  status(): Record<string, string> | Promise<Record<string, string>>;
  down(): void;
  up(): void;
}

export interface DebugOptions {
  health: HealthView;
  /** Path serving Prometheus metrics, when enabled. */
  metricsPath?: string;
  /** The metrics text served there; by default this process's registry. */
  metrics?: () => Promise<string>;
  log: Logger;
}

/**
 * The debug server's handler (http.debug.addr), as Distribution's:
 *   GET  /debug/health       200 {} when healthy; 503 and {"<check>": "<reason>", …} otherwise
 *   POST /debug/health/down  marks the node unhealthy by hand; POST /debug/health/up undoes it
 *   GET  <prometheus.path>   Prometheus text format, when http.debug.prometheus.enabled
 */
export function debugHandler(options: DebugOptions): RequestListener {
  const { health, metricsPath, log } = options;
  if (metricsPath && !options.metrics) collectProcessMetrics();
  const metrics = options.metrics ?? (() => metricsRegistry().metrics());
  const fail = (res: ServerResponse, what: string, err: unknown, method: string) => {
    log.error({ err }, `${what} failed`);
    send(res, 500, 'text/plain; charset=utf-8', `${what} failed\n`, method);
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (path === '/debug/health' && (method === 'GET' || method === 'HEAD')) {
      Promise.resolve(health.status()).then((status) => {
        const ok = Object.keys(status).length === 0;
        send(res, ok ? 200 : 503, 'application/json; charset=utf-8', JSON.stringify(status), method);
      }, (err: unknown) => fail(res, 'health status', err, method));
      return;
    }
    if ((path === '/debug/health/down' || path === '/debug/health/up') && method === 'POST') {
      if (path.endsWith('/down')) health.down();
      else health.up();
      log.warn({ state: path.endsWith('/down') ? 'down' : 'up', remote: req.socket.remoteAddress }, 'health set by hand');
      return send(res, 200, 'application/json; charset=utf-8', '{}', method);
    }
    if (metricsPath && path === metricsPath && (method === 'GET' || method === 'HEAD')) {
      metrics().then(
        (text) => send(res, 200, metricsRegistry().contentType, text, method),
        (err: unknown) => fail(res, 'metrics collection', err, method),
      );
      return;
    }
    send(res, 404, 'text/plain; charset=utf-8', '404 page not found\n', method);
  };
}

function send(res: ServerResponse, status: number, type: string, body: string, method: string): void {
  const data = Buffer.from(body);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': data.length });
  res.end(method === 'HEAD' ? undefined : data);
}
