/**
 * Where a request body's bytes are, among the raw bytes of its connection (RFC 9112 §6–7): the
 * next `Content-Length` bytes, or the data of each chunk of a chunked body (chunk sizes,
 * extensions and trailer fields are framing). Used by the socket reads (socket-reads.ts), which
 * also hand every byte to Node's own parser: a body read here is only accepted when the parser
 * ends the message at the same byte, so a framing this reads differently fails the request.
 */
export interface Framing {
  /**
   * Reads `bytes`, the next raw bytes of the message: appends the body's parts among them to
   * `spans` as [start, end) pairs, and returns the offset just past the message's end when it
   * ends in `bytes`, else -1. Throws a FramingError on bytes no valid message has.
   */
  scan(bytes: Uint8Array, spans: number[]): number;
}

export class FramingError extends Error {}

export class LengthFraming implements Framing {
  constructor(private remaining: number) {}

  scan(bytes: Uint8Array, spans: number[]): number {
    const n = Math.min(bytes.length, this.remaining);
    if (n > 0) spans.push(0, n);
    this.remaining -= n;
    return this.remaining === 0 ? n : -1;
  }
}

const enum State {
  SizeStart,
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  EndLf,
  Done,
}

const CR = 0x0d;
const LF = 0x0a;
/** Larger chunk sizes are refused (Node's parser takes 64-bit sizes; no upload has such a chunk). */
const MAX_CHUNK = Number.MAX_SAFE_INTEGER;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * chunked-body = *chunk last-chunk trailer-section CRLF; chunk = chunk-size [chunk-ext] CRLF
 * chunk-data CRLF. Strict about CRLF, as Node's parser is by default.
 */
export class ChunkedFraming implements Framing {
  private state = State.SizeStart;
  private size = 0;

  scan(bytes: Uint8Array, spans: number[]): number {
    let i = 0;
    const len = bytes.length;
    while (i < len) {
      const c = bytes[i]!;
      switch (this.state) {
        case State.SizeStart:
        case State.Size: {
          const h = hexValue(c);
          if (h >= 0) {
            this.size = this.size * 16 + h;
            if (this.size > MAX_CHUNK) throw new FramingError('chunk size too large');
            this.state = State.Size;
          } else if (this.state === State.SizeStart) {
            throw new FramingError('chunk size expected');
          } else if (c === CR) {
            this.state = State.SizeLf;
          } else if (c === 0x3b || c === 0x20 || c === 0x09) {
            this.state = State.Extension;
          } else {
            throw new FramingError('invalid chunk size');
          }
          i++;
          break;
        }
        case State.Extension:
          if (c === CR) this.state = State.SizeLf;
          else if (c === LF) throw new FramingError('bare LF in chunk extension');
          i++;
          break;
        case State.SizeLf:
          if (c !== LF) throw new FramingError('CRLF expected after chunk size');
          this.state = this.size === 0 ? State.TrailerStart : State.Data;
          i++;
          break;
        case State.Data: {
          const n = Math.min(this.size, len - i);
          spans.push(i, i + n);
          this.size -= n;
          i += n;
          if (this.size === 0) this.state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (c !== CR) throw new FramingError('CRLF expected after chunk data');
          this.state = State.DataLf;
          i++;
          break;
        case State.DataLf:
          if (c !== LF) throw new FramingError('CRLF expected after chunk data');
          this.state = State.SizeStart;
          i++;
          break;
        case State.TrailerStart:
          this.state = c === CR ? State.EndLf : State.Trailer;
          i++;
          break;
        case State.Trailer:
          if (c === CR) this.state = State.TrailerLf;
          else if (c === LF) throw new FramingError('bare LF in trailer');
          i++;
          break;
        case State.TrailerLf:
          if (c !== LF) throw new FramingError('CRLF expected after trailer field');
          this.state = State.TrailerStart;
          i++;
          break;
        case State.EndLf:
          if (c !== LF) throw new FramingError('CRLF expected at the end of a chunked body');
          this.state = State.Done;
          return i + 1;
        case State.Done:
          return i;
      }
    }
    return -1;
  }
}
