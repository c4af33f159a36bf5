import type { Hold } from './rules.js';

/**
 * One writer at a time per tag, for the writes policy must not interleave (docs/policy.md): the
 * check and the write of an immutable tag (two first pushes cannot both pass the check) and
 * retention's re-check and removal of a tag (a push cannot land between them). TagStore takes it
 * for the tags StorageRules.serializes names. In one process a queue per tag; the server adds the
 * workers' lock (through the primary) or Redis's when several processes share the storage.
 */
export interface TagLocks {
  /** Resolves once the caller alone may write `tag` of repository `name`, until `release`. */
  hold(name: string, tag: string): Promise<Hold>;
}

/** Within one process: callers queue per tag, in arrival order. */
export class LocalTagLocks implements TagLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async hold(name: string, tag: string): Promise<Hold> {
    const key = `${name}:${tag}`;
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    await before;
    return {
      release: () => {
        release();
        if (this.tails.get(key) === tail) this.tails.delete(key);
      },
    };
  }
}

/**
 * A lock other processes share (`take`), asked by one caller of this process at a time: the
 * others queue here rather than at the primary or in Redis.
 */
export function acrossProcesses(take: (name: string, tag: string) => Promise<Hold>, local: TagLocks = new LocalTagLocks()): TagLocks {
  return {
    async hold(name, tag) {
      const inner = await local.hold(name, tag);
      try {
        const outer = await take(name, tag);
        return {
          release: () => {
            outer.release();
            inner.release();
          },
        };
      } catch (err) {
        inner.release();
        throw err;
      }
    },
  };
}
