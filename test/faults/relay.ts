/**
 * A TCP relay in front of a server, for a slow or silent store: in `pass` it forwards both ways;
 * in `hold` it accepts connections and keeps every byte it is sent, forwarding nothing in either
 * direction until set back to `pass` (a store that stopped answering but keeps its sockets open).
 */
import net from 'node:net';

export type RelayMode = 'pass' | 'hold';

export class Relay {
  port = 0;
  /** Connections accepted so far. */
  accepted = 0;
  private modeNow: RelayMode = 'pass';
  private readonly sockets = new Set<net.Socket>();
  private readonly held: Array<() => void> = [];
  private readonly server: net.Server;

  private constructor(target: number) {
    this.server = net.createServer((client) => {
      this.accepted++;
      const upstream = net.connect(target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      this.forward(client, upstream);
      this.forward(upstream, client);
    });
  }

  static async start(targetPort: number): Promise<Relay> {
    const relay = new Relay(targetPort);
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    relay.port = (relay.server.address() as net.AddressInfo).port;
    return relay;
  }

  /** Client connections open now. */
  get open(): number {
    return this.sockets.size / 2;
  }

  get mode(): RelayMode {
    return this.modeNow;
  }

  set mode(m: RelayMode) {
    this.modeNow = m;
    if (m === 'pass') for (const release of this.held.splice(0)) release();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** `from`'s bytes to `to`, in order, kept while the relay holds. */
  private forward(from: net.Socket, to: net.Socket): void {
    const queue: Array<Buffer | null> = [];
    const flush = () => {
      while (this.modeNow === 'pass' && queue.length) {
        const chunk = queue.shift()!;
        if (chunk === null) to.end();
        else to.write(chunk);
      }
    };
    const push = (chunk: Buffer | null) => {
      queue.push(chunk);
      if (this.modeNow === 'pass') flush();
      else this.held.push(flush);
    };
    from.on('data', (chunk: Buffer) => push(chunk));
    from.on('end', () => push(null));
  }
}
