import type { Readable } from 'node:stream';
import type { DeleteOptions, FileInfo, FileWriter, MoveOptions, RedirectOptions, StorageDriver, WalkFn, WalkOptions, WriterOptions } from './driver/types.js';
import type { Listings } from './listing/listings.js';
import { metadataKeys, type MetadataCache } from './metadata-cache.js';
import { layoutPathOf } from './paths.js';

/** "A write happened": a file put (written, moved into place) or a file or directory deleted. */
export interface StorageChange {
  op: 'put' | 'delete';
  path: string;
}

/**
 * Who made the change: this process (its stores already keep what they wrote, and it saves the
 * saved lists), or another process that announced it (Redis today, a cluster's primary
 * tomorrow), whose values are not known here.
 */
export type ChangeOrigin = 'local' | 'remote';

/**
 * The one way storage changes reach what this process keeps: every kept listing (the catalog,
 * tag lists) and the metadata cache. This process's writes arrive from its driver
 * (reportingDriver below), other processes' from whatever carries them (src/redis/invalidation.ts
 * subscribes and calls `apply` with origin 'remote').
 *
 * A remote delete clears the whole metadata cache, as the message says what changed but not
 * what it holds now, and reads already under way may predate it (TtlCache.clear keeps them out).
 * A remote put does not: the cache keeps only what is present (a blob's size, a link, a tag's
 * target), which a put cannot make wrong except a tag's target, and that entry is dropped by key
 * as for a local write, loads of it under way kept out (TtlCache.delete). Clearing on every put
 * had each worker read its metadata again after every blob another worker stored. Then, from
 * either origin, each change is read as a place in the layout (paths.ts,
 * layoutPathOf) and applied: a put under a repository's `_manifests` lists the repository in the
 * catalog, a tag's `current` link lists the tag; deletes drop the metadata they make wrong and
 * the names they remove. `undefined` (a carrier that may have lost messages) drops every tag list
 * and has the catalog read again while still answered.
 */
export class StorageChanges {
  constructor(
    private readonly meta: MetadataCache,
    private readonly listings: Listings,
  ) {}

  /** Told of every change once it is applied, from either origin (src/policy/usage.ts follows links with it). */
  private readonly followers: Array<(changes: readonly StorageChange[] | undefined) => void> = [];

  follow(follower: (changes: readonly StorageChange[] | undefined) => void): void {
    this.followers.push(follower);
  }

  apply(changes: readonly StorageChange[] | undefined, origin: ChangeOrigin): void {
    if (origin === 'remote' && (!changes || changes.some((c) => c.op !== 'put'))) this.meta.clear();
    if (!changes) this.listings.reloadAll();
    else for (const change of changes) this.applyOne(change, origin);
    for (const follower of this.followers) follower(changes);
  }

  private applyOne({ op, path }: StorageChange, origin: ChangeOrigin): void {
    const at = layoutPathOf(path);
    const { meta, listings } = this;
    if (op === 'put') {
      // Puts only add: cached presence is only ever "present", and a tag's target is what moves.
      if (at.kind === 'revision' || at.kind === 'tag') listings.catalog.added(at.name, origin);
      if (at.kind === 'tag' && at.part === 'current') {
        meta.delete(metadataKeys.tag(at.name, at.tag));
        listings.keptTagList(at.name)?.added(at.tag, origin);
      }
      return;
    }
    switch (at.kind) {
      case 'blob':
        return meta.delete(metadataKeys.blobSize(at.digest));
      case 'layer-link':
        return meta.delete(metadataKeys.layerLink(at.name, at.digest));
      case 'layer-links':
        return meta.deletePrefix(metadataKeys.layerLinks(at.name));
      case 'revision':
        return meta.delete(metadataKeys.revision(at.name, at.digest));
      case 'revisions':
        return meta.deletePrefix(metadataKeys.revisions(at.name));
      case 'tag':
        meta.delete(metadataKeys.tag(at.name, at.tag));
        if (at.part === 'whole') listings.keptTagList(at.name)?.removed(at.tag, origin);
        return;
      case 'tags':
        meta.deletePrefix(metadataKeys.tags(at.name));
        return listings.dropTagList(at.name);
      case 'manifests':
        meta.deletePrefix(metadataKeys.revisions(at.name));
        meta.deletePrefix(metadataKeys.tags(at.name));
        listings.dropTagList(at.name);
        return listings.catalog.removed((name) => name === at.name, origin);
      case 'names': {
        for (const prefix of [...metadataKeys.repositoryPrefixes(at.prefix), ...metadataKeys.nestedPrefixes(at.prefix)]) meta.deletePrefix(prefix);
        const under = (name: string) => name === at.prefix || name.startsWith(`${at.prefix}/`);
        listings.dropTagLists(under);
        return listings.catalog.removed(under, origin);
      }
      case 'all-repositories':
        meta.clear();
        return listings.reloadAll();
    }
  }
}

/**
 * Whether a write is reported at all, here or to other processes. Not upload data: it changes on
 * every chunk and is never cached. Not a blob stored: what any process keeps of blobs is their
 * presence (a size), which a put cannot make wrong, and what follows changes acts on links (quota
 * usage, the UI's sizes) and on a blob's delete, never on its data being stored. Reporting it made
 * each blob push one more round trip through every carrier for nobody (with workers: to the
 * primary, every other worker and back, before the push is answered).
 */
function worthReporting({ op, path }: StorageChange): boolean {
  if (path.includes('/_uploads/')) return false;
  return op !== 'put' || layoutPathOf(path).kind !== 'blob';
}

/**
 * Whether a reported write is announced to other processes (workers, instances) too. A layer link
 * written changes nothing another process keeps (the cache keeps presence only, listings follow
 * manifests and tags) except quota usage, which counts links: announced only where quotas are
 * configured (the same on every instance), as every other change is. Otherwise announcing it was
 * one round trip per blob pushed through the primary (or Redis) before the push was answered.
 */
export function announcedWhere(quotas: boolean): (change: StorageChange) => boolean {
  return quotas ? () => true : ({ op, path }) => op !== 'put' || layoutPathOf(path).kind !== 'layer-link';
}

/**
 * The driver, telling `report` about each write worth it (worthReporting) once it has succeeded
 * (and before the caller goes on, so a request is answered only after everyone who must know has
 * been told). Reads and every optional capability are the driver's own.
 */
export function reportingDriver(inner: StorageDriver, report: (changes: StorageChange[]) => Promise<void>): StorageDriver {
  const after = async <T>(result: Promise<T>, ...changes: StorageChange[]): Promise<T> => {
    const value = await result;
    const told = changes.filter(worthReporting);
    if (told.length > 0) await report(told);
    return value;
  };
  const driver: StorageDriver = {
    name: inner.name,
    getContent: (path: string) => inner.getContent(path),
    putContent: (path: string, content: Uint8Array) => after(inner.putContent(path, content), { op: 'put', path }),
    reader: (path: string, offset?: number, length?: number): Promise<Readable> => inner.reader(path, offset, length),
    writer: async (path: string, options?: WriterOptions): Promise<FileWriter> => reported(await inner.writer(path, options), path, false),
    stat: (path: string): Promise<FileInfo> => inner.stat(path),
    list: (path: string) => inner.list(path),
    move: (source: string, dest: string, options?: MoveOptions) => after(inner.move(source, dest, options), { op: 'delete', path: source }, { op: 'put', path: dest }),
    delete: (path: string, options?: DeleteOptions) => after(inner.delete(path, options), { op: 'delete', path }),
    redirectURL: (path: string, options: RedirectOptions) => inner.redirectURL(path, options),
    walk: (path: string, visit: WalkFn, options?: WalkOptions) => inner.walk(path, visit, options),
  };
  forwardOptional(inner, driver);
  const staged = inner.stagedWriter?.bind(inner);
  if (staged) driver.stagedWriter = async (path: string) => reported(await staged(path), path, true);
  return driver;

  /** A writer whose ends are reported; a staged one changes path only by its commit. */
  function reported(w: FileWriter, path: string, staged: boolean): FileWriter {
    return {
      get size() {
        return w.size;
      },
      write: (chunk: Uint8Array) => w.write(chunk),
      ...(w.writeBorrowed ? { writeBorrowed: (chunk: Uint8Array) => w.writeBorrowed!(chunk) } : {}),
      ...(w.suspend && !staged ? { suspend: () => after(w.suspend!(), { op: 'put', path }) } : {}),
      close: () => (staged ? w.close() : after(w.close(), { op: 'put', path })),
      cancel: () => (staged ? w.cancel() : after(w.cancel(), { op: 'delete', path })),
      commit: () => after(w.commit(), { op: 'put', path }),
    };
  }
}

/**
 * Every optional capability of a driver, listed once: the compiler refuses this table until a
 * capability added to StorageDriver is in it, so a wrapper cannot silently drop one.
 */
const OPTIONAL_CAPABILITIES = {
  openRead: true,
  stagedWriter: true,
  statFile: true,
  listPendingWrites: true,
  abortPendingWrite: true,
  listFiles: true,
  listChildren: true,
  objectKey: true,
  close: true,
} satisfies Record<OptionalKey<StorageDriver>, true>;

type OptionalKey<T> = { [K in keyof T]-?: undefined extends T[K] ? K : never }[keyof T];

/** Gives `outer` each optional capability `inner` has, as `inner`'s own. */
function forwardOptional(inner: StorageDriver, outer: StorageDriver): void {
  for (const key of Object.keys(OPTIONAL_CAPABILITIES) as OptionalKey<StorageDriver>[]) {
    const capability = inner[key] as ((...args: unknown[]) => unknown) | undefined;
    if (capability) (outer as unknown as Record<string, unknown>)[key] = capability.bind(inner);
  }
}
