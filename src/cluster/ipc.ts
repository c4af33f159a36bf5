/**
 * Calls and notices between the primary and its workers over Node's IPC channel (cluster
 * workers' `process.send`, the primary's `worker.send`). A call carries an id and is answered by
 * one reply; a notice is not answered. Messages are tagged `berth` so that other users of the
 * channel (prom-client, Node's own cluster messages) pass by.
 */

/** Either end of the channel: `process` in a worker, a `cluster.Worker` in the primary. */
export interface Port {
  send(message: unknown, callback?: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

type Envelope =
  | { berth: 'call'; id: number; type: string; body: unknown }
  | { berth: 'reply'; id: number; body?: unknown; error?: string }
  | { berth: 'notice'; type: string; body: unknown };

type Handler = (body: unknown) => unknown;

export class ChannelClosedError extends Error {
  constructor() {
    super('the other process has gone');
  }
}

export class Channel {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout | undefined }>();
  private readonly handlers = new Map<string, Handler>();
  private closed = false;

  constructor(private readonly port: Port) {
    port.on('message', (message) => this.receive(message));
  }

  /** Answers calls and notices of `type`; a call's answer is what `handler` returns (or resolves to). */
  handle(type: string, handler: Handler): void {
    this.handlers.set(type, handler);
  }

  /** Sends a call and resolves with its answer; rejects after `timeoutMs` (0: never) or once the other end has gone. */
  call<T = unknown>(type: string, body: unknown, timeoutMs = 0): Promise<T> {
    if (this.closed) return Promise.reject(new ChannelClosedError());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = timeoutMs > 0 ? setTimeout(() => this.settle(id, undefined, new Error(`${type}: no answer within ${timeoutMs} ms`)), timeoutMs) : undefined;
      timer?.unref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.post({ berth: 'call', id, type, body }, () => this.settle(id, undefined, new ChannelClosedError()));
    });
  }

  notice(type: string, body: unknown): void {
    if (!this.closed) this.post({ berth: 'notice', type, body });
  }

  /** The other end has gone: every call waiting for an answer is rejected. */
  close(): void {
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.settle(id, undefined, new ChannelClosedError());
  }

  private post(envelope: Envelope, onError?: () => void): void {
    try {
      this.port.send(envelope, (err) => {
        if (err) onError?.();
      });
    } catch {
      onError?.();
    }
  }

  private settle(id: number, value: unknown, error?: Error): void {
    const waiting = this.pending.get(id);
    if (!waiting) return;
    this.pending.delete(id);
    clearTimeout(waiting.timer);
    if (error) waiting.reject(error);
    else waiting.resolve(value);
  }

  private receive(message: unknown): void {
    if (typeof message !== 'object' || message === null || !('berth' in message)) return;
    const m = message as Envelope;
    if (m.berth === 'reply') {
      this.settle(m.id, m.body, m.error !== undefined ? new Error(m.error) : undefined);
      return;
    }
    const handler = this.handlers.get(m.type);
    if (m.berth === 'notice') {
      if (handler) void Promise.resolve().then(() => handler(m.body)).catch(() => undefined);
      return;
    }
    // A call nobody here handles yet (a worker still starting) is answered with nothing.
    Promise.resolve()
      .then(() => handler?.(m.body))
      .then(
        (body) => this.post({ berth: 'reply', id: m.id, body }),
        (err: unknown) => this.post({ berth: 'reply', id: m.id, error: err instanceof Error ? err.message : String(err) }),
      );
  }
}
