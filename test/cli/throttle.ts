// A TCP proxy in front of a registry that passes its answers on at a fixed rate, so that a
// transfer is still running when a test looks at it (progress bars) or interrupts it (Ctrl-C).
import net from 'node:net';

export interface Throttle {
  /** host:port of the proxy. */
  host: string;
  close(): Promise<void>;
}

/** Answers from the registry at `upstreamPort` reach the client at `bytesPerSecond` per connection. */
export async function throttle(upstreamPort: number, bytesPerSecond: number): Promise<Throttle> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      upstream.pause();
      setTimeout(() => upstream.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
