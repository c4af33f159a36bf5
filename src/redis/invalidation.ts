import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FileInfo, FileWriter, RedirectOptions, StorageDriver, WalkFn, WalkOptions } from '../storage/driver/types.js';
import type { StorageChange } from '../storage/registry.js';

/**
 * Cross-instance invalidation of the metadata cache (tags, links, blob sizes; 1 s TTL) and of the
 * kept listings (catalog, tag lists).
 *
 * Every instance wraps its storage driver with `publishingDriver`: after a write that changes
 * registry metadata (anything but upload data under `_uploads/`) succeeds, and before the request
 * that made it is answered, it PUBLISHes on CHANNEL what it wrote or deleted. Every other
 * instance, on that message, clears its whole metadata cache (TtlCache.clear, which also stops
 * loads already in flight from filling it with what they read) and applies the change to its kept
 * listings (Registry.applyRemoteChanges). A client told "201 Created" by A and then asking B is
 * therefore answered from storage: Redis has written the message to B's connection before A's
 * PUBLISH and the PING after it return (announce).
 *
 * A message is the publisher's id, then one line per change: "put PATH" or "delete PATH". A
 * message without change lines (as older Berth versions sent) means "something changed".
 *
 * When the subscription connection drops and comes back, messages may have been lost: the cache
 * is cleared on every (re)subscribe. A PUBLISH that fails (Redis down) is logged and the write
 * still succeeds; other instances then see it within the TTL (1 s; kept listings when they next
 * reload). See docs/deployment.md.
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

  /**
   * Calls `onChange` whenever another instance changed storage, with what it changed; without it
   * when messages may have been missed.
   */
  async subscribe(onChange: (changes: StorageChange[] | undefined) => void): Promise<void> {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== CHANNEL) return;
      const [from, ...lines] = message.split('\n');
      if (from === this.instance) return;
      const changes = lines.map(parseChange);
      onChange(changes.length > 0 && changes.every((c) => c !== undefined) ? (changes as StorageChange[]) : undefined);
    });
    this.subscriber.on('ready', () => onChange(undefined));
    await this.subscriber.subscribe(CHANNEL);
  }

  /**
   * PUBLISH, then PING on the same connection. Redis may write the PUBLISH reply before the
   * message to the subscribers' sockets (same event-loop turn, publisher first); on a loaded
   * machine that gap let a client told "deleted" by this instance reach another one before the
   * message did (seen once in the three-instance test). The PING is read in a later turn, after
   * every write of the PUBLISH's turn has been made.
   */
  private async announce(message: string): Promise<void> {
    await this.publisher.publish(CHANNEL, message);
    await this.publisher.ping();
  }

  async publish(...changes: StorageChange[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.announce([this.instance, ...changes.map((c) => `${c.op} ${c.path}`)].join('\n')),
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

function parseChange(line: string): StorageChange | undefined {
  const space = line.indexOf(' ');
  const op = line.slice(0, space);
  return (op === 'put' || op === 'delete') && line[space + 1] === '/' ? { op, path: line.slice(space + 1) } : undefined;
}

/** Upload data changes on every chunk and is never cached: no message for it. */
function relevant(path: string): boolean {
  return !path.includes('/_uploads/');
}

/** The driver, publishing on the bus after each successful metadata write. */
export function publishingDriver(inner: StorageDriver, bus: InvalidationBus): StorageDriver {
  const after = async <T>(result: Promise<T>, ...changes: StorageChange[]): Promise<T> => {
    const value = await result;
    const told = changes.filter((c) => relevant(c.path));
    if (told.length > 0) await bus.publish(...told);
    return value;
  };
  const driver: StorageDriver = {
    name: inner.name,
    ...(inner.openRead ? { openRead: (path: string) => inner.openRead!(path) } : {}),
    getContent: (path: string) => inner.getContent(path),
    putContent: (path: string, content: Uint8Array) => after(inner.putContent(path, content), { op: 'put', path }),
    reader: (path: string, offset?: number, length?: number): Promise<Readable> => inner.reader(path, offset, length),
    writer: async (path: string, append: boolean): Promise<FileWriter> => {
      const w = await inner.writer(path, append);
      return {
        get size() {
          return w.size;
        },
        write: (chunk: Uint8Array) => w.write(chunk),
        close: () => after(w.close(), { op: 'put', path }),
        cancel: () => after(w.cancel(), { op: 'delete', path }),
        commit: () => after(w.commit(), { op: 'put', path }),
      };
    },
    stat: (path: string): Promise<FileInfo> => inner.stat(path),
    list: (path: string) => inner.list(path),
    move: (source: string, dest: string) => after(inner.move(source, dest), { op: 'delete', path: source }, { op: 'put', path: dest }),
    delete: (path: string) => after(inner.delete(path), { op: 'delete', path }),
    redirectURL: (path: string, options: RedirectOptions) => inner.redirectURL(path, options),
    walk: (path: string, visit: WalkFn, options?: WalkOptions) => inner.walk(path, visit, options),
  };
  if (inner.close) driver.close = () => inner.close!();
  if (inner.listFiles) driver.listFiles = (path, skip) => inner.listFiles!(path, skip);
  if (inner.listChildren) driver.listChildren = (path, after) => inner.listChildren!(path, after);
  if (inner.listPendingWrites && inner.abortPendingWrite) {
    driver.listPendingWrites = (path) => inner.listPendingWrites!(path);
    driver.abortPendingWrite = (write) => inner.abortPendingWrite!(write);
  }
  return driver;
}
