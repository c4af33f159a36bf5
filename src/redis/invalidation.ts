import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { StorageChange } from '../storage/changes.js';

/**
 * Cross-instance invalidation of the metadata cache (tags, links, blob sizes; 1 s TTL) and of the
 * kept listings (catalog, tag lists).
 *
 * Every instance's registry reports its writes (reportingDriver, src/storage/changes.ts): after a
 * write that changes registry metadata (not upload data under `_uploads/`, not a blob stored) succeeds, and
 * before the request that made it is answered, it PUBLISHes on CHANNEL what it wrote or deleted.
 * Every other instance applies the message to what it keeps (StorageChanges.apply, origin
 * 'remote'): its whole metadata cache is cleared (TtlCache.clear, which also stops loads already
 * in flight from filling it with what they read) and its kept listings take the change in place. A client told "201 Created" by A and then asking B is
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
