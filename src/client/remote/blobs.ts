/**
 * Blobs over HTTP. Reads hash as they stream and pick up where they broke (a `Range` request
 * from the last byte received) when a connection fails; uploads are monolithic (one PUT of the
 * whole stream) or chunked (PATCHes of `chunkSize` bytes, each resumed from the server's `Range`
 * after a failure), so at most one chunk is ever held in memory.
 */
import { Readable } from 'node:stream';
import type { Descriptor } from '../../oci/descriptor.js';
import { Digester, parseDigest, type Digest } from '../../oci/digest.js';
import { NetworkError, ProtocolError, RequestError, ServerError, TooManyRequestsError } from '../errors.js';
import { checkDigest, markVerified, mismatch, toStream } from '../content/verify.js';
import { backoff, isNetworkError, sleep, type RetryPolicy } from '../http/retry.js';
import { discard, header, type HttpResponse } from '../http/transport.js';
import type { Registry } from './registry.js';

export interface BlobContext {
  registry: Registry;
  name: string;
}

const pull = (c: BlobContext) => [`repository:${c.name}:pull`];
const push = (c: BlobContext) => [`repository:${c.name}:pull,push`];
const blobPath = (c: BlobContext, digest: string) => `/v2/${c.name}/blobs/${digest}`;

/** HEAD: the blob's size when the repository has it, undefined when not. */
export async function statBlob(c: BlobContext, digest: Digest, signal?: AbortSignal): Promise<number | undefined> {
  const res = await c.registry.request({ method: 'HEAD', path: blobPath(c, digest.value), scopes: pull(c), repository: c.name, expect: [200, 404], notFound: 'BLOB_UNKNOWN', signal });
  await discard(res);
  if (res.status === 404) return undefined;
  const length = Number(header(res, 'content-length'));
  return Number.isSafeInteger(length) ? length : undefined;
}

/**
 * GET, verified while streaming, resumed by Range after a broken connection. Resolves once the
 * registry has answered (so a 404 rejects here); the stream fails with DigestMismatchError when
 * the content does not match, or NetworkError when the retries run out.
 */
export async function fetchBlob(c: BlobContext, desc: Descriptor, signal?: AbortSignal): Promise<Readable> {
  const open = async (offset: number): Promise<{ res: HttpResponse; skip: number }> => {
    const res = await c.registry.request({
      method: 'GET', path: blobPath(c, desc.digest.value), scopes: pull(c), repository: c.name, signal,
      headers: offset > 0 ? { Range: `bytes=${offset}-` } : {}, expect: offset > 0 ? [200, 206] : [200], notFound: 'BLOB_UNKNOWN',
    });
    if (res.status === 206 && !header(res, 'content-range')?.startsWith(`bytes ${offset}-`)) {
      res.body.destroy();
      throw new ProtocolError(`asked for bytes ${offset}- and got ${header(res, 'content-range')}`, { code: 'RANGE_INVALID', info: res.info, status: 206 });
    }
    // A registry that ignores Range sends the whole blob again: skip what we have.
    return { res, skip: res.status === 200 ? offset : 0 };
  };
  return markVerified(new BlobReader(desc, open, await open(0), c.registry.client.transport.policy, signal), desc);
}

/**
 * The bytes of one blob across as many responses as it takes: each chunk is hashed and handed on
 * as it arrives (the response is paused while the consumer is behind), and a response that breaks
 * off is followed by a Range request from the last byte received. A plain Readable rather than an
 * async generator: one less hop per chunk on the path every copied byte takes.
 */
class BlobReader extends Readable {
  private readonly digester: Digester;
  private current: { res: HttpResponse; skip: number };
  private failures = 0;
  private reopening = false;

  constructor(
    private readonly desc: Descriptor,
    private readonly open: (offset: number) => Promise<{ res: HttpResponse; skip: number }>,
    first: { res: HttpResponse; skip: number },
    private readonly policy: RetryPolicy,
    private readonly signal?: AbortSignal,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.digester = new Digester(desc.digest.algorithm);
    this.current = first;
    this.attach(first);
  }

  private attach(cur: { res: HttpResponse; skip: number }): void {
    const body = cur.res.body;
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      // Every byte arrived (a reset after the last one does not matter): check them.
      if (this.digester.size >= this.desc.size) {
        try {
          checkDigest(this.desc, this.digester, cur.res.info);
          this.push(null);
        } catch (e) {
          this.destroy(e as Error);
        }
        return;
      }
      void this.resume_(err ?? Object.assign(new Error(`connection closed after ${this.digester.size} of ${this.desc.size} bytes`), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    const onData = (chunk: Buffer) => {
      let part = chunk;
      if (cur.skip > 0) {
        const n = Math.min(cur.skip, part.length);
        cur.skip -= n;
        part = part.subarray(n);
        if (part.length === 0) return;
      }
      this.digester.update(part);
      if (this.digester.size > this.desc.size) {
        settled = true;
        body.destroy();
        this.destroy(mismatch(this.desc, `more than the descriptor's ${this.desc.size} bytes`, cur.res.info));
        return;
      }
      if (!this.push(part)) body.pause();
    };
    body.on('data', onData);
    body.once('end', () => finish());
    body.once('error', (err) => finish(err));
    body.once('close', () => finish());
  }

  /** After a broken response: wait, ask for the rest, go on; or fail when it is no network fault or tries ran out. */
  private async resume_(err: unknown): Promise<void> {
    if (this.destroyed) return;
    const info = this.current.res.info;
    if (this.signal?.aborted) return void this.destroy(this.signal.reason as Error);
    if (!isNetworkError(err)) return void this.destroy(err as Error);
    const wait = backoff(this.policy, ++this.failures);
    if (wait === undefined) {
      return void this.destroy(new NetworkError(`${(err as Error).message} (after ${this.failures} tries)`, { code: (err as { code: string }).code, info, cause: err }));
    }
    this.reopening = true;
    try {
      await sleep(wait, this.signal);
      if (this.destroyed) return;
      this.current = await this.open(this.digester.size);
    } catch (e) {
      return void this.destroy(e as Error);
    } finally {
      this.reopening = false;
    }
    if (this.destroyed) return void this.current.res.body.destroy();
    this.attach(this.current);
  }

  override _read(): void {
    if (!this.reopening) this.current.res.body.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.current.res.body.destroyed) this.current.res.body.destroy();
    cb(err);
  }
}

export type UploadContent = Readable | Buffer | (() => Readable | Promise<Readable>);

export interface UploadOptions {
  /** The digest, when known up front; otherwise computed (sha256) while the content streams. */
  digest?: Digest | string;
  /** The length, when known; a monolithic upload needs it. */
  size?: number;
  /** Upload in PATCH chunks of this many bytes (default: one PUT when digest and size are known). */
  chunkSize?: number;
  signal?: AbortSignal;
}

const DEFAULT_CHUNK = 16 << 20;

/** Starts an upload session: its location and the registry's smallest chunk. */
async function startUpload(c: BlobContext, signal?: AbortSignal, query = ''): Promise<{ res: HttpResponse; location?: URL; minChunk: number }> {
  const res = await c.registry.request({ method: 'POST', path: `/v2/${c.name}/blobs/uploads/${query}`, scopes: push(c), repository: c.name, expect: [201, 202], notFound: 'NAME_UNKNOWN', signal });
  await discard(res);
  if (res.status === 201) return { res, minChunk: 0 };
  return { res, location: uploadLocation(c, res), minChunk: Number(header(res, 'oci-chunk-min-length')) || 0 };
}

function uploadLocation(c: BlobContext, res: HttpResponse): URL {
  const loc = header(res, 'location');
  if (!loc) throw new ProtocolError('upload answer without a Location', { code: 'BLOB_UPLOAD_INVALID', info: res.info, status: res.status });
  return new URL(loc, c.registry.base);
}

function withDigest(location: URL, digest: string): URL {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u;
}

/** A failure worth resuming the upload after (the connection, a 5xx, a 429, a chunk out of order). */
function resumable(err: unknown): boolean {
  return err instanceof NetworkError || err instanceof ServerError || err instanceof TooManyRequestsError || (err instanceof RequestError && err.status === 416);
}

/**
 * Uploads a blob and returns its digest and size. Monolithic when digest and size are known and
 * no chunkSize is asked for; a monolithic upload whose content can be opened again (a buffer or
 * a function) is started over after a failure. Chunked otherwise.
 */
export async function uploadBlob(c: BlobContext, content: UploadContent, o: UploadOptions = {}): Promise<{ digest: Digest; size: number }> {
  const digest = typeof o.digest === 'string' ? parseDigest(o.digest) : o.digest;
  if (digest && o.size !== undefined && !o.chunkSize) {
    const policy = c.registry.client.transport.policy;
    for (let attempt = 1; ; attempt++) {
      try {
        const body = typeof content === 'function' ? await content() : content;
        await putMonolithic(c, digest, o.size, body, o.signal);
        return { digest, size: o.size };
      } catch (err) {
        const wait = typeof content === 'function' || Buffer.isBuffer(content) ? backoff(policy, attempt) : undefined;
        if (o.signal?.aborted || !resumable(err) || wait === undefined) throw err;
        await sleep(wait, o.signal);
      }
    }
  }
  const body = typeof content === 'function' ? await content() : toStream(content);
  return uploadChunked(c, body, digest, o);
}

async function putMonolithic(c: BlobContext, digest: Digest, size: number, body: Readable | Buffer, signal?: AbortSignal, location?: URL): Promise<void> {
  const at = location ?? (await startUpload(c, signal)).location!;
  const res = await c.registry.request({
    method: 'PUT', path: withDigest(at, digest.value), scopes: push(c), repository: c.name, signal, noRetry: true,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) }, body, expect: [201], notFound: 'BLOB_UPLOAD_UNKNOWN',
  });
  await discard(res);
}

/** Splits a stream into buffers of `size` bytes (the last one shorter), holding one at a time. */
async function* fixedChunks(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(size);
  let fill = 0;
  for await (const piece of stream as AsyncIterable<Buffer>) {
    let off = 0;
    while (off < piece.length) {
      const n = Math.min(size - fill, piece.length - off);
      piece.copy(buf, fill, off, off + n);
      fill += n;
      off += n;
      if (fill === size) {
        yield buf;
        buf = Buffer.allocUnsafe(size);
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill);
}

async function uploadChunked(c: BlobContext, body: Readable, digest: Digest | undefined, o: UploadOptions): Promise<{ digest: Digest; size: number }> {
  const started = await startUpload(c, o.signal);
  let location = started.location!;
  const chunkSize = Math.max(o.chunkSize ?? DEFAULT_CHUNK, started.minChunk);
  const digester = new Digester(digest?.algorithm ?? 'sha256');
  for await (const chunk of fixedChunks(body, chunkSize)) {
    location = await sendChunk(c, location, chunk, digester.size, o.signal);
    digester.update(chunk);
  }
  const got = digester.digest();
  if (digest && got.value !== digest.value) throw mismatch({ mediaType: '', digest, size: o.size ?? digester.size }, `content hashes to ${got.value}`);
  if (o.size !== undefined && o.size !== digester.size) throw mismatch({ mediaType: '', digest: got, size: o.size }, `${digester.size} bytes where ${o.size} were announced`);
  const res = await c.registry.request({ method: 'PUT', path: withDigest(location, got.value), scopes: push(c), repository: c.name, signal: o.signal, expect: [201], notFound: 'BLOB_UPLOAD_UNKNOWN' });
  await discard(res);
  return { digest: got, size: digester.size };
}

/**
 * One PATCH of `chunk` at `offset`. After a failure, asks the session how much it holds (its
 * `Range`) and sends the rest of the chunk from there, with backoff, until the retries run out.
 */
async function sendChunk(c: BlobContext, location: URL, chunk: Buffer, offset: number, signal?: AbortSignal): Promise<URL> {
  const policy = c.registry.client.transport.policy;
  let sent = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      const part = chunk.subarray(sent);
      const res = await c.registry.request({
        method: 'PATCH', path: location, scopes: push(c), repository: c.name, signal, noRetry: true, body: part, expect: [202], notFound: 'BLOB_UPLOAD_UNKNOWN',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset + sent}-${offset + chunk.length - 1}` },
      });
      await discard(res);
      return uploadLocation(c, res);
    } catch (err) {
      const wait = backoff(policy, attempt);
      if (signal?.aborted || !resumable(err) || wait === undefined) throw err;
      await sleep(wait, signal);
      const status = await uploadStatus(c, location, signal);
      location = status.location;
      sent = status.received - offset;
      if (sent < 0 || sent > chunk.length) {
        throw new ProtocolError(`upload holds ${status.received} bytes, expected between ${offset} and ${offset + chunk.length}`, { code: 'BLOB_UPLOAD_INVALID', info: { registry: c.registry.host, method: 'GET', url: location.pathname } });
      }
    }
  }
}

/** GET on an upload session: how many bytes it holds (from `Range: 0-<last>`). */
export async function uploadStatus(c: BlobContext, location: URL, signal?: AbortSignal): Promise<{ received: number; location: URL }> {
  const res = await c.registry.request({ method: 'GET', path: location, scopes: push(c), repository: c.name, signal, expect: [204], notFound: 'BLOB_UPLOAD_UNKNOWN' });
  await discard(res);
  const range = header(res, 'range');
  const m = range ? /^(?:bytes=)?0-(\d+)$/.exec(range) : null;
  // Registries write `0-0` for an empty session (Distribution does); a Range absent means none.
  const last = m ? Number(m[1]) : -1;
  const received = last <= 0 ? 0 : last + 1;
  return { received, location: header(res, 'location') ? uploadLocation(c, res) : location };
}

/**
 * Mounts `desc` from another repository of this registry. When the registry declines and opens
 * an upload session instead (202, as the spec allows), the content is pushed into it.
 */
export async function mountBlob(c: BlobContext, desc: Descriptor, from: string, getContent: () => Promise<Readable>, signal?: AbortSignal): Promise<'mounted' | 'pushed'> {
  const query = `?mount=${encodeURIComponent(desc.digest.value)}&from=${encodeURIComponent(from)}`;
  const res = await c.registry.request({
    method: 'POST', path: `/v2/${c.name}/blobs/uploads/${query}`, repository: c.name, signal, expect: [201, 202], notFound: 'NAME_UNKNOWN',
    scopes: [...push(c), `repository:${from}:pull`],
  });
  await discard(res);
  if (res.status === 201) return 'mounted';
  await putMonolithic(c, desc.digest, desc.size, await getContent(), signal, uploadLocation(c, res));
  return 'pushed';
}

export async function deleteBlob(c: BlobContext, digest: Digest, signal?: AbortSignal): Promise<void> {
  const res = await c.registry.request({ method: 'DELETE', path: blobPath(c, digest.value), scopes: [`repository:${c.name}:delete`], repository: c.name, signal, expect: [202, 200, 204], notFound: 'BLOB_UNKNOWN' });
  await discard(res);
}
