import net from 'node:net';

/** The message that carries a connection to a worker: a string, so Channel (which reads only its tagged objects) passes it by. */
export const CONNECTION_MESSAGE = 'berth-connection';

/** Connections that arrive while no worker is ready wait for one: at most this many, each at most WAIT_MS. */
const WAITING_MAX = 512;
const WAIT_MS = 10_000;

/** A worker as the dealer sees it: anything that takes a socket over IPC (a cluster.Worker). */
export interface Taker {
  send(message: string, handle: net.Socket, callback: (error: Error | null) => void): boolean;
}

/**
 * The primary's listening socket (docs/architecture.md, "Workers"): it accepts each connection
 * without reading from it and hands it to the ready worker with the fewest connections open
 * (ties in turn), which serves it as if it had accepted it. Workers report the connections that
 * closed. Node's own cluster scheduling hands a connection to whichever worker acknowledged its
 * previous one first, so a burst of keep-alive clients split 27/37 over two busy workers, and
 * the one with more set its clients' pace (docs/performance.md, "Heap growth 100, connections
 * dealt, …").
 */
export class Dealer {
  readonly server = net.createServer({ pauseOnConnect: true }, (socket) => this.deal(socket));
  /** Ready workers and the connections each was handed and has not reported closed, in the order they became ready. */
  private readonly open = new Map<Taker, number>();
  private readonly waiting = new Set<net.Socket>();
  private turn = 0;

  constructor() {
    // A client gone while its connection waits or travels is no matter of the primary's.
    this.server.on('connection', (socket) => socket.on('error', () => undefined));
  }

  /** `worker` is ready: it takes connections from now on, those waiting first. */
  add(worker: Taker): void {
    this.open.set(worker, 0);
    for (const socket of this.waiting) {
      this.waiting.delete(socket);
      if (!socket.destroyed) this.deal(socket);
    }
  }

  /** `worker` has exited or is draining: its connections went with it, it gets no more. */
  remove(worker: Taker): void {
    this.open.delete(worker);
  }

  /** `worker` reports `count` of its connections closed. */
  closed(worker: Taker, count: number): void {
    const n = this.open.get(worker);
    if (n !== undefined) this.open.set(worker, Math.max(0, n - count));
  }

  /** Stops accepting; connections still waiting for a worker are closed. */
  close(): Promise<void> {
    for (const socket of this.waiting) socket.destroy();
    this.waiting.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private deal(socket: net.Socket, attempt = 0): void {
    const worker = this.pick();
    if (!worker) return this.wait(socket);
    this.open.set(worker, this.open.get(worker)! + 1);
    worker.send(CONNECTION_MESSAGE, socket, (err) => {
      if (!err) return;
      // The worker went between the choice and the send: another one takes it, else the client sees a reset.
      this.closed(worker, 1);
      if (attempt < 2 && !socket.destroyed) this.deal(socket, attempt + 1);
      else socket.destroy();
    });
  }

  /** The worker with the fewest open connections; among equals, the next in turn. */
  private pick(): Taker | undefined {
    const workers = [...this.open.keys()];
    if (workers.length === 0) return undefined;
    let best: Taker | undefined;
    let fewest = Infinity;
    for (let i = 0; i < workers.length; i++) {
      const w = workers[(this.turn + i) % workers.length]!;
      const n = this.open.get(w)!;
      if (n < fewest) {
        best = w;
        fewest = n;
      }
    }
    this.turn = (this.turn + 1) % workers.length;
    return best;
  }

  private wait(socket: net.Socket): void {
    if (this.waiting.size >= WAITING_MAX) {
      socket.destroy();
      return;
    }
    this.waiting.add(socket);
    setTimeout(() => {
      if (this.waiting.delete(socket)) socket.destroy();
    }, WAIT_MS).unref();
  }
}
