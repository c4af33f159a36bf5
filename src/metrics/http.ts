import type { CounterCell, CounterFamily, HistogramCell, HistogramFamily } from './cells.js';
import { callbackGaugeFamily, counterFamily, histogramFamily, LATENCY_BUCKETS } from './registry.js';

/**
 * Request metrics: requests by handler, method and status; latency; bytes in and out. Handler
 * names are Distribution's route names. Every cell a request touches is resolved once per
 * (handler, method) and (…, status) and kept, so recording a request is a few additions.
 */

export const HANDLER_NAMES: Record<string, string> = {
  base: 'base',
  catalog: 'catalog',
  tags: 'tags',
  manifest: 'manifest',
  blob: 'blob',
  uploads: 'blob_upload',
  upload: 'blob_upload_chunk',
  referrers: 'referrers',
  repository: 'repository',
  none: 'none',
};

/** A router's route kind (src/api/router.ts), or "none" before or without a match; other kinds are named as they are. */
export type HandlerKind = string;

const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS']);

interface MethodCells {
  duration: HistogramCell;
  bytesIn: CounterCell;
  bytesOut: CounterCell;
  byStatus: Map<number, CounterCell>;
  handler: string;
  method: string;
}

export class HttpMetrics {
  private readonly requests: CounterFamily;
  private readonly duration: HistogramFamily;
  private readonly bytesIn: CounterFamily;
  private readonly bytesOut: CounterFamily;
  private readonly byKind = new Map<string, Map<string, MethodCells>>();

  constructor(inFlight: () => number) {
    this.requests = counterFamily('registry_http_requests_total', 'Requests served, by handler, method and status code', ['handler', 'method', 'code']);
    this.duration = histogramFamily('registry_http_request_duration_seconds', 'Time from request to the end of the response, in seconds', ['handler', 'method'], LATENCY_BUCKETS);
    this.bytesIn = counterFamily('registry_http_request_bytes_total', 'Bytes received (headers and bodies), by handler and method', ['handler', 'method']);
    this.bytesOut = counterFamily('registry_http_response_bytes_total', 'Bytes sent (headers and bodies), by handler and method', ['handler', 'method']);
    callbackGaugeFamily('registry_http_in_flight_requests', 'Requests being served', []).set(inFlight);
  }

  private cells(kind: HandlerKind, rawMethod: string): MethodCells {
    let methods = this.byKind.get(kind);
    if (!methods) this.byKind.set(kind, (methods = new Map()));
    let cells = methods.get(rawMethod);
    if (!cells) {
      const handler = HANDLER_NAMES[kind] ?? kind;
      const method = METHODS.has(rawMethod) ? rawMethod : 'OTHER';
      cells = {
        duration: this.duration.cell(handler, method),
        bytesIn: this.bytesIn.cell(handler, method),
        bytesOut: this.bytesOut.cell(handler, method),
        byStatus: new Map(),
        handler,
        method,
      };
      // Unknown methods all share one entry, so a client cannot grow this map without bound.
      if (method !== 'OTHER' || methods.size < 16) methods.set(rawMethod, cells);
    }
    return cells;
  }

  /** Records one finished request. */
  record(kind: HandlerKind, method: string, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    const cells = this.cells(kind, method);
    let counter = cells.byStatus.get(status);
    if (!counter) cells.byStatus.set(status, (counter = this.requests.cell(cells.handler, cells.method, String(status))));
    counter.value++;
    this.duration.observe(cells.duration, seconds);
    cells.bytesIn.value += bytesIn;
    cells.bytesOut.value += bytesOut;
  }
}
