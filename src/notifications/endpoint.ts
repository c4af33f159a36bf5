import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import type { NotificationEndpointConfig } from '../config/types.js';
import { callbackGaugeFamily, counterFamily } from '../metrics/registry.js';
import type { Event } from './event.js';
import { FilterSink, HttpSink, QueueSink, RetryingSink, type Sink, type SinkObserver } from './sinks.js';

/** Grace given to queued events when the server stops. */
const CLOSE_GRACE_MS = 1000;

/**
 * One configured endpoint: filter → bounded queue → retries → HTTP. Writing never waits.
 * Metrics carry Distribution's names: registry_notifications_events_total{type,endpoint} with
 * type Events, Successes, Failures, Errors (and Berth's Dropped), registry_notifications_pending
 * and registry_notifications_status_total{code,endpoint} (code as Distribution writes it: "200 OK").
 */
export class Endpoint implements Sink {
  private readonly queue: QueueSink;
  private readonly head: Sink;

  /** `delivery` replaces the HTTP POST to `url` (a plugin's sink); filter, queue and retries stay. */
  constructor(
    readonly config: NotificationEndpointConfig,
    log: Logger,
    delivery?: Sink,
  ) {
    const observer = endpointObserver(config.name);
    const http = delivery ?? new HttpSink(config.url, { headers: config.headers, timeoutMs: config.timeoutMs, observer });
    const retrying = new RetryingSink(http, config.threshold, config.backoffMs, log, config.name);
    this.queue = new QueueSink(retrying, config.queuesize, log, config.name, observer);
    this.head = new FilterSink(this.queue, [...config.ignore.mediatypes, ...config.ignoredmediatypes], config.ignore.actions);
    callbackGaugeFamily('registry_notifications_pending', 'Events waiting in an endpoint queue', ['endpoint']).set(() => this.queue.length, config.name);
  }

  /** Events waiting (including the one being delivered). */
  get pending(): number {
    return this.queue.length;
  }

  write(event: Event): Promise<void> {
    return this.head.write(event);
  }

  async close(): Promise<void> {
    await this.queue.close(CLOSE_GRACE_MS);
  }
}

function endpointObserver(endpoint: string): SinkObserver {
  const events = counterFamily('registry_notifications_events_total', 'Notification events by outcome and endpoint', ['type', 'endpoint']);
  const statuses = counterFamily('registry_notifications_status_total', 'Notification deliveries by HTTP status and endpoint', ['code', 'endpoint']);
  const incoming = events.cell('Events', endpoint);
  const successes = events.cell('Successes', endpoint);
  const failures = events.cell('Failures', endpoint);
  const errors = events.cell('Errors', endpoint);
  const dropped = events.cell('Dropped', endpoint);
  const status = (code: number) => statuses.cell(`${code} ${STATUS_CODES[code] ?? ''}`, endpoint).value++;
  return {
    ingress: () => incoming.value++,
    egress: () => undefined,
    success: (code) => {
      successes.value++;
      status(code);
    },
    failure: (code) => {
      failures.value++;
      status(code);
    },
    error: () => errors.value++,
    dropped: (count) => (dropped.value += count),
  };
}
