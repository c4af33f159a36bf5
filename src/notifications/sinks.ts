import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { encodeEnvelope, EVENTS_MEDIA_TYPE, type Event } from './event.js';

/**
 * Sinks as decorators, as in Distribution: an endpoint is
 *   FilterSink → QueueSink → RetryingSink → HttpSink
 * The filter drops ignored media types and actions; the bounded queue takes events from request
 * handlers without ever blocking them and feeds one delivery at a time to the retrying sink,
 * which retries a failing endpoint (immediately up to `threshold` consecutive failures, then once
 * per `backoff`) until it accepts the event or the sink is closed. The HTTP sink makes a single
 * attempt.
 */
export interface Sink {
  write(event: Event): Promise<void>;
  close(): Promise<void>;
}

/** Told what happens to events, for metrics. */
export interface SinkObserver {
  ingress(): void;
  egress(): void;
  success(status: number): void;
  failure(status: number): void;
  error(err: unknown): void;
  dropped(count: number): void;
}

export class SinkClosedError extends Error {
  constructor() {
    super('sink closed');
  }
}

export interface HttpSinkOptions {
  headers: Record<string, string[]>;
  timeoutMs: number;
  observer?: SinkObserver;
}

/** One POST per event; 2xx and 3xx count as accepted (Distribution's rule). */
export class HttpSink implements Sink {
  private readonly agent: http.Agent;
  private readonly aborter = new AbortController();
  private readonly target: URL;

  constructor(
    readonly url: string,
    private readonly options: HttpSinkOptions,
  ) {
    this.target = new URL(url);
    const secure = this.target.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  async write(event: Event): Promise<void> {
    if (this.aborter.signal.aborted) throw new SinkClosedError();
    const body = encodeEnvelope([event]);
    let status: number;
    try {
      status = await this.post(body);
    } catch (err) {
      this.options.observer?.error(err);
      throw err;
    }
    if (status >= 200 && status < 400) {
      this.options.observer?.success(status);
      return;
    }
    this.options.observer?.failure(status);
    throw new Error(`response status ${status} ${http.STATUS_CODES[status] ?? ''} unaccepted`.trimEnd());
  }

  private post(body: Buffer): Promise<number> {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, values] of Object.entries(this.options.headers)) headers[name] = values.length === 1 ? values[0] : values;
    headers['content-type'] = EVENTS_MEDIA_TYPE;
    headers['content-length'] = body.length;
    const request = this.target.protocol === 'https:' ? https.request : http.request;
    return new Promise<number>((resolve, reject) => {
      const req = request(this.target, { method: 'POST', headers, agent: this.agent, signal: this.aborter.signal });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      req.once('response', (res) => {
        res.resume();
        res.once('end', () => {
          clearTimeout(timer);
          resolve(res.statusCode ?? 0);
        });
        res.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.aborter.abort();
    this.agent.destroy();
  }
}

/** Retries the inner sink until it accepts the event; after `threshold` consecutive failures, waits `backoffMs` between attempts. */
export class RetryingSink implements Sink {
  private failures = 0;
  private lastFailure = 0;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly inner: Sink,
    private readonly threshold: number,
    private readonly backoffMs: number,
    private readonly log: Logger,
    private readonly name: string,
  ) {}

  /** True while the endpoint is failing (at least one failure since the last success). */
  get failing(): boolean {
    return this.failures > 0;
  }

  async write(event: Event): Promise<void> {
    for (;;) {
      if (this.closed) throw new SinkClosedError();
      if (this.failures >= this.threshold) {
        const wait = this.lastFailure + this.backoffMs - Date.now();
        if (wait > 0) await this.sleep(wait);
        if (this.closed) throw new SinkClosedError();
      }
      try {
        await this.inner.write(event);
        if (this.failures > 0) this.log.info({ endpoint: this.name, failures: this.failures }, 'notification endpoint recovered');
        this.failures = 0;
        return;
      } catch (err) {
        if (this.closed) throw new SinkClosedError();
        this.failures++;
        this.lastFailure = Date.now();
        const reason = err instanceof Error ? err.message : String(err);
        if (this.failures === 1 || this.failures === this.threshold) {
          this.log.warn({ endpoint: this.name, failures: this.failures, reason }, 'notification endpoint failing; retrying');
        } else {
          this.log.debug({ endpoint: this.name, failures: this.failures, reason }, 'notification delivery failed');
        }
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.inner.close();
  }
}

/**
 * A bounded in-memory queue in front of a sink. `write` never waits: a full queue drops the
 * incoming event, counts it and says so in the log (at most once a second per endpoint, with the
 * number dropped since the last line).
 */
export class QueueSink implements Sink {
  private readonly events: Event[] = [];
  private running = false;
  private closed = false;
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly inner: Sink,
    private readonly capacity: number,
    private readonly log: Logger,
    private readonly name: string,
    private readonly observer?: SinkObserver,
  ) {}

  get length(): number {
    return this.events.length;
  }

  async write(event: Event): Promise<void> {
    if (this.closed || this.events.length >= this.capacity) {
      this.drop(1, this.closed ? 'closed' : 'queue full');
      return;
    }
    this.events.push(event);
    this.observer?.ingress();
    if (!this.running) void this.run();
  }

  private drop(count: number, reason: string): void {
    this.observer?.dropped(count);
    this.droppedSinceLog += count;
    const now = Date.now();
    if (now - this.lastDropLog < 1000) return;
    this.lastDropLog = now;
    this.log.warn({ endpoint: this.name, dropped: this.droppedSinceLog, capacity: this.capacity, reason }, 'notification events dropped');
    this.droppedSinceLog = 0;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.events.length > 0 && !this.closed) {
        const event = this.events[0]!;
        try {
          await this.inner.write(event);
        } catch (err) {
          if (err instanceof SinkClosedError) break;
          this.log.error({ endpoint: this.name, err }, 'notification event lost');
        }
        this.events.shift();
        this.observer?.egress();
      }
    } finally {
      this.running = false;
      for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  /** Waits up to `graceMs` for queued events to be delivered, then stops; what is left is dropped and logged. */
  async close(graceMs = 0): Promise<void> {
    if (this.running && graceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idle.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    this.closed = true;
    await this.inner.close();
    const left = this.events.length;
    if (left > 0) {
      this.events.length = 0;
      this.observer?.dropped(left);
      for (let i = 0; i < left; i++) this.observer?.egress();
      this.log.warn({ endpoint: this.name, dropped: left }, 'notification events not delivered before shutdown');
    }
  }
}

/** Passes on everything but events whose target media type or action is ignored. */
export class FilterSink implements Sink {
  private readonly mediaTypes: Set<string>;
  private readonly actions: Set<string>;

  constructor(
    private readonly inner: Sink,
    mediaTypes: readonly string[],
    actions: readonly string[],
  ) {
    this.mediaTypes = new Set(mediaTypes);
    this.actions = new Set(actions);
  }

  write(event: Event): Promise<void> {
    if (this.actions.has(event.action)) return Promise.resolve();
    if (event.target.mediaType !== undefined && this.mediaTypes.has(event.target.mediaType)) return Promise.resolve();
    return this.inner.write(event);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
