import { Readable, Transform } from 'node:stream';
import type { Descriptor } from '../../oci/descriptor.js';
import { Digester } from '../../oci/digest.js';
import { DigestMismatchError, type RequestInfo } from '../errors.js';

export function mismatch(desc: Descriptor, why: string, info?: RequestInfo): DigestMismatchError {
  return new DigestMismatchError(`${desc.digest.value}: ${why}`, { code: 'DIGEST_INVALID', info });
}

/** Checks size and digest of what has passed; throws DigestMismatchError. */
export function checkDigest(desc: Descriptor, digester: Digester, info?: RequestInfo): void {
  if (digester.size !== desc.size) throw mismatch(desc, `${digester.size} bytes where the descriptor says ${desc.size}`, info);
  const got = digester.digest().value;
  if (got !== desc.digest.value) throw mismatch(desc, `content hashes to ${got}`, info);
}

// Streams that end only when their content is exactly the descriptor's (they fail otherwise), so
// that a consumer need not hash them a second time: a blob pulled into a layout is hashed once,
// as it arrives.
const verified = new WeakMap<Readable, string>();
const key = (desc: Descriptor) => `${desc.digest.value} ${desc.size}`;

/** Records that `stream` verifies itself against `desc`. */
export function markVerified<T extends Readable>(stream: T, desc: Descriptor): T {
  verified.set(stream, key(desc));
  return stream;
}

/** Whether `content` is a stream that verifies itself against `desc`. */
export function isVerified(content: Readable | Buffer, desc: Descriptor): content is Readable {
  return !Buffer.isBuffer(content) && verified.get(content) === key(desc);
}

/** A pass-through that fails at the end (or as soon as it is too long) when content does not match. */
export function verifying(desc: Descriptor, info?: RequestInfo): Transform {
  const digester = new Digester(desc.digest.algorithm);
  return markVerified(new Transform({
    transform(chunk: Buffer, _enc, cb) {
      digester.update(chunk);
      if (digester.size > desc.size) return cb(mismatch(desc, `more than the descriptor's ${desc.size} bytes`, info));
      cb(null, chunk);
    },
    flush(cb) {
      try {
        checkDigest(desc, digester, info);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  }), desc);
}

/** A buffer as a stream, or a stream as it is. */
export function toStream(content: Readable | Buffer): Readable {
  return Buffer.isBuffer(content) ? Readable.from([content]) : content;
}

/** Reads a small stream whole (manifests: 4 MiB at most), refusing anything longer than `limit`. */
export async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) {
      stream.destroy();
      throw new RangeError(`content larger than ${limit} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
