/**
 * One copy algorithm over the manifest graph, for any two targets. Each node is copied after its
 * successors (leaves first), so a registry never sees a manifest before what it names; a node
 * the destination already has is skipped with everything under it (a registry holds a manifest
 * only with its successors); a node reached through two branches is copied once; at most
 * `concurrency` transfers run at a time (waiting for children holds no slot); blobs move within
 * one registry by mount. The first failure aborts the rest.
 */
import type { Readable } from 'node:stream';
import type { Descriptor } from '../../oci/descriptor.js';
import { isManifestMediaType, successors } from '../../oci/graph.js';
import { isMounter, isReferencePusher, type ReadOnlyStorage, type Storage } from '../content/storage.js';
import { readAll } from '../content/verify.js';
import { NetworkError, ServerError, TooManyRequestsError } from '../errors.js';
import { MAX_MANIFEST_BYTES } from '../remote/manifests.js';

export interface CopyProgress {
  /** The node whose bytes moved. */
  descriptor: Descriptor;
  /** Bytes of this node so far. */
  bytes: number;
  /** Bytes of every node so far. */
  totalBytes: number;
}

export interface CopyHooks {
  /** A node's transfer begins. */
  onStart?(desc: Descriptor): void;
  /** Bytes moved (called per chunk; throttle rendering in the caller). */
  onProgress?(p: CopyProgress): void;
  /** A node is in the destination, copied by this call. */
  onCopied?(desc: Descriptor): void;
  /** The destination had the node already: it and its successors are not copied. */
  onSkipped?(desc: Descriptor): void;
  /** A blob was mounted from another repository of the same registry instead of copied. */
  onMounted?(desc: Descriptor, fromRepository: string): void;
}

export interface GraphCopyOptions extends CopyHooks {
  /** Transfers at once (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
  /** Mount blobs across repositories of one registry (default true). */
  mount?: boolean;
  /** Push the root under this tag (one PUT on a registry), instead of by digest. */
  rootTag?: string;
  /** Attempts per blob when a push fails on the connection or a 5xx (default 3; the content is fetched again). */
  attempts?: number;
}

export interface CopyStats {
  copied: number;
  skipped: number;
  mounted: number;
  /** Bytes transferred (mounted and skipped nodes count none). */
  bytes: number;
}

/** At most `n` at once: `run(fn)` waits for a slot, runs fn, and hands the slot to the next waiter. */
function limiter(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active < n) active++;
    else await new Promise<void>((r) => waiting.push(r)); // the releaser's slot passes to us
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/** Waits for every promise (so no transfer outlives a failure), then fails with the first error. */
async function settleAll(promises: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function retryable(err: unknown): boolean {
  return err instanceof NetworkError || err instanceof ServerError || err instanceof TooManyRequestsError;
}

export async function copyGraph(src: ReadOnlyStorage, dst: Storage, root: Descriptor, o: GraphCopyOptions = {}): Promise<CopyStats> {
  const stats: CopyStats = { copied: 0, skipped: 0, mounted: 0, bytes: 0 };
  const run = limiter(Math.max(1, o.concurrency ?? 4));
  const done = new Map<string, Promise<void>>();
  const ac = new AbortController();
  const onAbort = () => ac.abort(o.signal!.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const signal = ac.signal;
  let firstError: unknown;
  const mountFrom = o.mount !== false && isMounter(dst) && isMounter(src) && src.registry === dst.registry && src.repository !== dst.repository ? src.repository : undefined;

  // Counts bytes as they are read from the source. A listener on 'data' rather than a Transform
  // in the pipe: one stream hop less for every chunk of every blob. The stream is paused first so
  // that the listener does not start it flowing before the destination reads (pipe() and read()
  // both emit 'data').
  const counted = (desc: Descriptor, stream: Readable): Readable => {
    let bytes = 0;
    stream.pause();
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      stats.bytes += chunk.length;
      o.onProgress?.({ descriptor: desc, bytes, totalBytes: stats.bytes });
    });
    return stream;
  };

  const copyBlob = async (desc: Descriptor): Promise<void> => {
    if (mountFrom !== undefined && isMounter(dst)) {
      const how = await dst.mount(desc, mountFrom, async () => counted(desc, await src.fetch(desc, { signal })), { signal });
      if (how === 'mounted') {
        stats.mounted++;
        o.onMounted?.(desc, mountFrom);
        return;
      }
    } else {
      const attempts = o.attempts ?? 3;
      for (let attempt = 1; ; attempt++) {
        try {
          await dst.push(desc, counted(desc, await src.fetch(desc, { signal })), { signal });
          break;
        } catch (err) {
          if (signal.aborted || attempt >= attempts || !retryable(err)) throw err;
        }
      }
    }
    stats.copied++;
    o.onCopied?.(desc);
  };

  const copyManifest = async (desc: Descriptor, isRoot: boolean): Promise<void> => {
    const content = await run(async () => readAll(await src.fetch(desc, { signal }), MAX_MANIFEST_BYTES));
    await settleAll(successors(desc, content).map((d) => visit(d, false)));
    await run(async () => {
      o.onStart?.(desc);
      if (isRoot && o.rootTag !== undefined && isReferencePusher(dst)) await dst.pushReference(desc, content, o.rootTag, { signal });
      else await dst.push(desc, content, { signal });
    });
    stats.bytes += content.length;
    o.onProgress?.({ descriptor: desc, bytes: content.length, totalBytes: stats.bytes });
    stats.copied++;
    o.onCopied?.(desc);
  };

  const visit = (desc: Descriptor, isRoot: boolean): Promise<void> => {
    const key = desc.digest.value;
    let p = done.get(key);
    if (!p) {
      p = (async () => {
        signal.throwIfAborted();
        if (await run(() => dst.exists(desc, { signal }))) {
          stats.skipped++;
          o.onSkipped?.(desc);
          // The root is there already; its tag may not be.
          if (isRoot && o.rootTag !== undefined && isReferencePusher(dst)) {
            const content = await run(async () => readAll(await src.fetch(desc, { signal }), MAX_MANIFEST_BYTES));
            await run(() => dst.pushReference(desc, content, o.rootTag!, { signal }));
          }
          return;
        }
        if (isManifestMediaType(desc.mediaType)) return copyManifest(desc, isRoot);
        await run(async () => {
          o.onStart?.(desc);
          await copyBlob(desc);
        });
      })();
      // The first failure stops every other transfer.
      p.catch((err) => {
        firstError ??= err;
        ac.abort(err);
      });
      done.set(key, p);
    }
    return p;
  };

  try {
    await visit(root, true);
    return stats;
  } catch (err) {
    throw o.signal?.aborted ? o.signal.reason : firstError ?? err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}
