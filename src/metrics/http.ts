import type { CounterCell, CounterFamily, HistogramCell, HistogramFamily } from './cells.js';
import { counterFamily, gaugeFamily, histogramFamily, HTTP_LATENCY_BUCKETS, SIZE_BUCKETS } from './registry.js';

/**
 * Request metrics as Distribution 2.8.2 exposes them (docker/go-metrics over promhttp):
 * requests by handler, method and code; latency by handler and method; request and response
 * sizes by handler; requests in flight by handler. Handlers are Distribution's route names and
 * methods are lower-case, as there. Every cell a request touches is resolved once per (handler,
 * method) and (…, code) and kept, so recording a request is a few additions.
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

/** Distribution's routes: their in-flight series exist (at 0) from the start, as there. */
const DISTRIBUTION_HANDLERS = ['base', 'blob', 'blob_upload', 'blob_upload_chunk', 'catalog', 'manifest', 'tags'];

/** A router's route kind (src/api/router.ts), or "none" before or without a match; other kinds are named as they are. */
export type HandlerKind = string;

const METHODS: Record<string, string> = { GET: 'get', HEAD: 'head', PUT: 'put', POST: 'post', PATCH: 'patch', DELETE: 'delete', OPTIONS: 'options' };

interface HandlerCells {
  inFlight: CounterCell;
  requestSize: HistogramCell;
  responseSize: HistogramCell;
}

/** The cells of one (handler, method); a request holds them from routing to its end. */
export interface RequestCells {
  readonly duration: HistogramCell;
  readonly byStatus: Map<number, CounterCell>;
  readonly handlerCells: HandlerCells;
  readonly handler: string;
  readonly method: string;
}

export class HttpMetrics {
  private readonly requests: CounterFamily;
  private readonly duration: HistogramFamily;
  private readonly requestSize: HistogramFamily;
  private readonly responseSize: HistogramFamily;
  private readonly inFlight = gaugeFamily('registry_http_in_flight_requests', 'The in-flight HTTP requests', ['handler']);
  private readonly byHandler = new Map<string, HandlerCells>();
  private readonly byKind = new Map<string, Map<string, RequestCells>>();

  constructor() {
    this.requests = counterFamily('registry_http_requests_total', 'Total number of HTTP requests made.', ['code', 'handler', 'method']);
    this.duration = histogramFamily('registry_http_request_duration_seconds', 'The HTTP request latencies in seconds.', ['handler', 'method'], HTTP_LATENCY_BUCKETS);
    this.requestSize = histogramFamily('registry_http_request_size_bytes', 'The HTTP request sizes in bytes.', ['handler'], SIZE_BUCKETS);
    this.responseSize = histogramFamily('registry_http_response_size_bytes', 'The HTTP response sizes in bytes.', ['handler'], SIZE_BUCKETS);
    for (const handler of DISTRIBUTION_HANDLERS) this.inFlight.cell(handler);
  }

  private handlerCells(handler: string): HandlerCells {
    let cells = this.byHandler.get(handler);
    if (!cells) {
      cells = { inFlight: this.inFlight.cell(handler), requestSize: this.requestSize.cell(handler), responseSize: this.responseSize.cell(handler) };
      this.byHandler.set(handler, cells);
    }
    return cells;
  }

  private cells(kind: HandlerKind, rawMethod: string): RequestCells {
    let methods = this.byKind.get(kind);
    if (!methods) this.byKind.set(kind, (methods = new Map()));
    let cells = methods.get(rawMethod);
    if (!cells) {
      const handler = HANDLER_NAMES[kind] ?? kind;
      const method = METHODS[rawMethod] ?? 'other';
      cells = { duration: this.duration.cell(handler, method), byStatus: new Map(), handlerCells: this.handlerCells(handler), handler, method };
      // Unknown methods all share one entry, so a client cannot grow this map without bound.
      if (method !== 'other' || methods.size < 16) methods.set(rawMethod, cells);
    }
    return cells;
  }

  /** A routed request starts: counted in flight until `record` is given the cells returned. */
  begin(kind: HandlerKind, method: string): RequestCells {
    const cells = this.cells(kind, method);
    cells.handlerCells.inFlight.value++;
    return cells;
  }

  /**
   * Records one finished request: `begun` is what `begin` returned when the request was routed
   * (undefined for a request that never was). Request bytes are those read from the socket
   * (headers and body); response bytes are the body only, as Distribution counts them.
   */
  record(begun: RequestCells | undefined, kind: HandlerKind, method: string, status: number, seconds: number, requestBytes: number, responseBodyBytes: number): void {
    const cells = begun ?? this.cells(kind, method);
    const handler = cells.handlerCells;
    if (begun) handler.inFlight.value--;
    let counter = cells.byStatus.get(status);
    if (!counter) cells.byStatus.set(status, (counter = this.requests.cell(String(status), cells.handler, cells.method)));
    counter.value++;
    this.duration.observe(cells.duration, seconds);
    this.requestSize.observe(handler.requestSize, requestBytes);
    this.responseSize.observe(handler.responseSize, responseBodyBytes);
  }
}
