import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../oci/digest.js';
import type { LocalRepository } from '../storage/local-repository.js';
import { drained } from '../drained.js';

/**
 * One blob on its way from the upstream into storage. Its bytes go through the repository's
 * upload store (hashed, verified against the digest, moved into place and linked, as a push is),
 * and at the same time to every client reading it:
 * - a reader of the whole blob that joins while the first REPLAY_BYTES are still kept in memory
 *   gets those, then the rest as it arrives;
 * - any other reader (a range, or one arriving later) waits until the blob has landed and reads
 *   it from storage.
 * Readers are ended only once the digest has been verified and the blob linked; on a mismatch they
 * are destroyed (the connection breaks). A client that counts Content-Length has its bytes just
 * before that, and checks the digest itself as every registry client does. The slowest reader sets the pace (as
 * Distribution's proxy, which copies to the client and to storage together); a reader that goes
 * away is dropped and the fetch continues into storage.
 */
export const REPLAY_BYTES = 8 * 1024 * 1024;
const HIGH_WATER = 1024 * 1024;

type State = 'streaming' | 'committing' | 'done' | 'failed';

export class BlobFetch {
  private readonly readers = new Set<PassThrough>();
  private replay: Buffer[] | undefined = [];
  private replayBytes = 0;
  private state: State = 'streaming';
  /** Bytes received from the upstream so far. */
  received = 0;
  /** Called once when the fetch fails, before its clean-up: new readers must not join it any more. */
  onFailure: (() => void) | undefined;
  /** Settles when the blob is stored and linked (or the fetch failed). */
  readonly done: Promise<void>;

  constructor(
    private readonly repo: LocalRepository,
    readonly digest: Digest,
    /** From the upstream's Content-Length; -1 when it sent none. */
    readonly size: number,
    /** The upstream's body; none for a blob another worker has just stored (landed). */
    body: Readable | undefined,
  ) {
    if (!body) {
      this.state = 'done';
      this.replay = undefined;
      this.received = size;
    }
    this.done = body ? this.pump(body) : Promise.resolve();
    this.done.catch(() => undefined);
  }

  /** A blob another worker fetched and stored meanwhile: readers read it from storage. */
  static landed(repo: LocalRepository, digest: Digest, size: number): BlobFetch {
    return new BlobFetch(repo, digest, size, undefined);
  }

  /** The blob's bytes from `offset` (at most `length`), live when possible, else from storage once stored. */
  reader(offset = 0, length?: number): Readable {
    const whole = offset === 0 && (length === undefined || length === this.size);
    const out = new PassThrough({ highWaterMark: HIGH_WATER });
    // A reader whose client has gone no longer has the response's error listener; destroying it
    // with the fetch's error must not become an uncaught exception (it took the process down).
    out.on('error', () => undefined);
    if (whole && this.state === 'streaming' && this.replay) {
      for (const chunk of this.replay) out.write(chunk);
      this.readers.add(out);
      return out;
    }
    this.done
      .then(() => this.repo.blobs.reader(this.digest, offset, length))
      .then((stored) => pipeline(stored, out))
      .catch((err: Error) => out.destroy(err));
    return out;
  }

  private async pump(body: Readable): Promise<void> {
    const { uploads } = this.repo;
    let upload;
    try {
      upload = await uploads.create();
    } catch (err) {
      this.fail(err, body);
      throw err;
    }
    const feed = new PassThrough({ highWaterMark: HIGH_WATER });
    // Destroyed with the upstream's error below, possibly before the upload store reads it.
    feed.on('error', () => undefined);
    let commitFailed: unknown;
    const committing = uploads.commit(upload.id, this.digest, feed);
    const settled = committing.then(
      () => undefined,
      (err: unknown) => void (commitFailed = err ?? new Error('storing the blob failed')),
    );
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (commitFailed) throw commitFailed;
        this.received += chunk.length;
        if (this.replay) {
          this.replay.push(chunk);
          this.replayBytes += chunk.length;
          if (this.replayBytes > REPLAY_BYTES) this.replay = undefined;
        }
        const waits: Promise<unknown>[] = [];
        if (!feed.write(chunk)) waits.push(Promise.race([drained(feed), settled]));
        for (const r of this.readers) {
          if (r.destroyed) this.readers.delete(r);
          else if (!r.write(chunk)) waits.push(drained(r));
        }
        if (waits.length > 0) await Promise.all(waits);
      }
      if (this.size >= 0 && this.received !== this.size) throw new Error(`upstream sent ${this.received} of ${this.size} bytes`);
      this.state = 'committing';
      this.replay = undefined;
      feed.end();
      await committing;
    } catch (err) {
      feed.destroy(err as Error);
      this.fail(err, body);
      await settled;
      await uploads.cancel(upload.id).catch(() => undefined);
      throw err;
    }
    this.state = 'done';
    for (const r of this.readers) r.end();
    this.readers.clear();
  }

  get failed(): boolean {
    return this.state === 'failed';
  }

  private fail(err: unknown, body: Readable): void {
    this.state = 'failed';
    this.onFailure?.();
    this.replay = undefined;
    for (const r of this.readers) r.destroy(err as Error);
    this.readers.clear();
    body.destroy();
  }
}
