/**
 * The pull scenario's client: one GET on its own connection, the body read into one reused 1 MiB
 * buffer (net's `onread`) and counted, nothing else. curl reads with a small buffer and writes each
 * piece to /dev/null: it took 0.40–0.60 s of CPU per GiB here and set the pace of every server and
 * of nginx alike (~2 GB/s), which hid the servers' own differences. This reader takes 0.12–0.30 s
 * per GiB (docs/performance.md, "The pull's client"). Only what the bench's servers answer is
 * understood: a `Content-Length` body, no chunked encoding.
 */
import { connect } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

const BUFFER = Buffer.allocUnsafeSlow(1 << 20);
const HEAD_LIMIT = 64 * 1024;

export interface LeanReply {
  status: number;
  headers: IncomingHttpHeaders;
  /** Body bytes received. */
  bytes: number;
}

export function leanGet(url: string, headers: Record<string, string> = {}): Promise<LeanReply> {
  const { hostname, port, pathname, search, host } = new URL(url);
  const lines = [`GET ${pathname}${search} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  const request = `${lines.join('\r\n')}\r\n\r\n`;

  return new Promise<LeanReply>((resolve, reject) => {
    let head: Buffer | undefined = Buffer.alloc(0);
    let reply: LeanReply | undefined;
    let length = 0;
    const settle = (err?: Error) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const socket = connect({
      host: hostname,
      port: Number(port),
      onread: {
        buffer: BUFFER,
        callback: (n, buf) => {
          let body = n;
          if (head) {
            // The head is copied out of the shared buffer; the body never is.
            head = Buffer.concat([head, buf.subarray(0, n)]);
            const end = head.indexOf('\r\n\r\n');
            if (end < 0) {
              if (head.length > HEAD_LIMIT) settle(new Error(`GET ${url}: no end of head in ${head.length} bytes`));
              return true;
            }
            reply = parseHead(head.subarray(0, end).toString('latin1'));
            const declared = reply.headers['content-length'];
            if (declared === undefined) {
              settle(new Error(`GET ${url}: no Content-Length (status ${reply.status})`));
              return false;
            }
            length = Number(declared);
            body = head.length - end - 4;
            head = undefined;
          }
          reply!.bytes += body;
          if (reply!.bytes >= length) settle();
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    socket.on('error', (err) => settle(err));
    socket.on('end', () => settle(reply && reply.bytes >= length ? undefined : new Error(`GET ${url}: connection closed after ${reply?.bytes ?? 0} of ${length} body bytes`)));
    socket.write(request);
  });
}

function parseHead(text: string): LeanReply {
  const [statusLine = '', ...fields] = text.split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: IncomingHttpHeaders = {};
  for (const field of fields) {
    const i = field.indexOf(':');
    if (i > 0) headers[field.slice(0, i).trim().toLowerCase()] = field.slice(i + 1).trim();
  }
  return { status, headers, bytes: 0 };
}
