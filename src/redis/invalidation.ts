import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FileInfo, FileWriter, RedirectOptions, StorageDriver, WalkFn, WalkOptions } from '../storage/driver/types.js';

/**
 * Cross-instance invalidation of the metadata cache (tags, links, blob sizes, catalog; 1 s TTL).
 *
 * Every instance wraps its storage driver with `publishingDriver`: after a write that changes
 * registry metadata (anything but upload data under `_uploads/`) succeeds, and before the request
 * that made it is answered, it PUBLISHes on CHANNEL. Every other instance, on that message, clears
 * its whole metadata cache (TtlCache.clear, which also stops loads already in flight from filling
 * it with what they read). A client told "201 Created" by A and then asking B is therefore answered
 * from storage: Redis has written the message to B's connection before A's PUBLISH returns.
 *
 * When the subscription connection drops and comes back, messages may have been lost: the cache
 * is cleared on every (re)subscribe. A PUBLISH that fails (Redis down) is logged and the write
 * still succeeds; other instances then see it within the TTL (1 s). See docs/deployment.md.
 */
export const CHANNEL = 'berth:metadata-changed';

export class InvalidationBus {
  readonly instance = randomUUID();
  private lastError = 0;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly logger: Logger,
  ) {}

  /** Calls `onChange` whenever another instance changed storage, or messages may have been missed. */
  async subscribe(onChange: () => void): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === CHANNEL && message !== this.instance) onChange();
    });
    this.subscriber.on('ready', () => onChange());
    await this.subscriber.subscribe(CHANNEL);
  }

  async publish(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.publisher.publish(CHANNEL, this.instance),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('redis publish timed out after 1s')), 1000);
        }),
      ]);
    } catch (err) {
      if (Date.now() - this.lastError > 10_000) {
        this.lastError = Date.now();
        this.logger.warn({ err }, 'could not tell other instances about a change; they see it within the cache TTL');
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Upload data changes on every chunk and is never cached: no message for it. */
function relevant(path: string): boolean {
  return !path.includes('/_uploads/');
}

/** The driver, publishing on the bus after each successful metadata write. */
export function publishingDriver(inner: StorageDriver, bus: InvalidationBus): StorageDriver {
  const after = async <T>(path: string, result: Promise<T>): Promise<T> => {
    const value = await result;
    if (relevant(path)) await bus.publish();
    return value;
  };
  const driver: StorageDriver = {
    name: inner.name,
    walksByFlatListing: inner.walksByFlatListing,
    ...(inner.openRead ? { openRead: (path: string) => inner.openRead!(path) } : {}),
    getContent: (path: string) => inner.getContent(path),
    putContent: (path: string, content: Uint8Array) => after(path, inner.putContent(path, content)),
    reader: (path: string, offset?: number, length?: number): Promise<Readable> => inner.reader(path, offset, length),
    writer: async (path: string, append: boolean): Promise<FileWriter> => {
      const w = await inner.writer(path, append);
      return {
        get size() {
          return w.size;
        },
        write: (chunk: Uint8Array) => w.write(chunk),
        close: () => after(path, w.close()),
        cancel: () => after(path, w.cancel()),
        commit: () => after(path, w.commit()),
      };
    },
    stat: (path: string): Promise<FileInfo> => inner.stat(path),
    list: (path: string) => inner.list(path),
    move: (source: string, dest: string) => after(relevant(source) ? source : dest, inner.move(source, dest)),
    delete: (path: string) => after(path, inner.delete(path)),
    redirectURL: (path: string, options: RedirectOptions) => inner.redirectURL(path, options),
    walk: (path: string, visit: WalkFn, options?: WalkOptions) => inner.walk(path, visit, options),
  };
  if (inner.close) driver.close = () => inner.close!();
  return driver;
}
