import type { CounterCell, HistogramCell } from '../metrics/cells.js';
import { counterFamily, histogramFamily, LATENCY_BUCKETS } from '../metrics/registry.js';

/**
 * The mirror's Prometheus metrics, in the process's one registry (served on the debug server).
 * Names follow Distribution 3's proxy metrics (`registry_proxy_{requests,hits,misses,pulled_bytes}_total`
 * by `type` blob|manifest), with an `upstream` label (the prefix, or "default"); Berth's own
 * `berth_proxy_upstream_*` add the upstream's latency and errors.
 */
export type ContentType = 'blob' | 'manifest';
export type UpstreamErrorReason = 'unreachable' | 'timeout' | 'status_5xx' | 'status_429' | 'denied' | 'invalid';

export interface UpstreamMetrics {
  request(type: ContentType): void;
  hit(type: ContentType): void;
  miss(type: ContentType): void;
  pulled(type: ContentType, bytes: number): void;
  latency(method: string, seconds: number): void;
  error(reason: UpstreamErrorReason): void;
}

export function upstreamMetrics(upstream: string): UpstreamMetrics {
  const requests = counterFamily('registry_proxy_requests_total', 'Requests for mirrored blobs and manifests', ['type', 'upstream']);
  const hits = counterFamily('registry_proxy_hits_total', 'Mirrored requests served from the cache', ['type', 'upstream']);
  const misses = counterFamily('registry_proxy_misses_total', 'Mirrored requests fetched from the upstream', ['type', 'upstream']);
  const pulled = counterFamily('registry_proxy_pulled_bytes_total', 'Bytes fetched from the upstream', ['type', 'upstream']);
  const errors = counterFamily('berth_proxy_upstream_errors_total', 'Failed upstream requests, by reason', ['upstream', 'reason']);
  const latency = histogramFamily('berth_proxy_upstream_request_duration_seconds', 'Time until an upstream answered (response headers)', ['upstream', 'method'], LATENCY_BUCKETS);

  const byType = <T>(make: (type: ContentType) => T): Record<ContentType, T> => ({ blob: make('blob'), manifest: make('manifest') });
  const req = byType((t) => requests.cell(t, upstream));
  const hit = byType((t) => hits.cell(t, upstream));
  const miss = byType((t) => misses.cell(t, upstream));
  const bytes = byType((t) => pulled.cell(t, upstream));
  const errorCells = new Map<string, CounterCell>();
  const latencyCells = new Map<string, HistogramCell>();
  return {
    request: (t) => void req[t].value++,
    hit: (t) => void hit[t].value++,
    miss: (t) => void miss[t].value++,
    pulled: (t, n) => void (bytes[t].value += n),
    latency(method, seconds) {
      let cell = latencyCells.get(method);
      if (!cell) latencyCells.set(method, (cell = latency.cell(upstream, method)));
      latency.observe(cell, seconds);
    },
    error(reason) {
      let cell = errorCells.get(reason);
      if (!cell) errorCells.set(reason, (cell = errors.cell(upstream, reason)));
      cell.value++;
    },
  };
}
