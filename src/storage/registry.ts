import type { Digest } from '../oci/digest.js';
import type { StorageDriver } from './driver/types.js';
import { PathNotFoundError } from './driver/errors.js';
import { BlobStore } from './blobs.js';
import { EarlyPages, LruCache, RefreshingValue, TtlCache, compareBytes, keyOrderBound, withName, withoutName, type MetadataCache, type PageNeed } from './cache.js';
import type { CachedInfo, ManifestPolicy } from './manifests/store.js';
import { CATALOG_SNAPSHOT, REPOSITORIES_ROOT, repositoryFolderOf, repositoryPath, savedTagsPath } from './paths.js';
import { isValidName, isValidTag } from '../oci/names.js';
import { SavedList, SavedTagIndex } from './saved-list.js';
import { listNames } from './links.js';
import { LocalRepository, type LocalRepositoryOptions, type RegistryParts } from './local-repository.js';
import type { Repository, RepositoryMirror } from './repository.js';
import { TagStore } from './tags.js';
import { UploadSessions } from './uploads.js';

/**
 * How long a kept listing (catalog, tag list) past its ttl is still answered while it is read
 * again in the background (at least; RefreshingValue scales it with the load time). Changes made
 * through this process, or announced by other instances over redis, are in it at once; a change
 * made by another program writing the storage shows up once a reload has finished.
 */
const STALE_LISTING_MS = 30_000;

/** A change another instance made to storage (src/redis/invalidation.ts). */
export interface StorageChange {
  op: 'put' | 'delete';
  path: string;
}

export interface RegistryOptions {
  policy: ManifestPolicy;
  /** How long metadata read from storage is trusted (see TtlCache); 0 reads storage every time. */
  metadataTtlMs: number;
}

/** The storage services of one registry, built on one driver. */
export class Registry implements RegistryParts {
  readonly blobs: BlobStore;
  readonly sessions = new UploadSessions();
  readonly manifestInfo = new LruCache<CachedInfo>(10_000);
  readonly meta: MetadataCache;
  readonly policy: ManifestPolicy;
  private readonly catalogListing: RefreshingValue<string[]>;
  private readonly catalogPages = new EarlyPages();
  private readonly catalogSaved: SavedList | undefined;
  private readonly savedTagIndex: SavedTagIndex | undefined;
  private readonly tagLists = new LruCache<KeptTags>(1_000);

  constructor(
    readonly driver: StorageDriver,
    private readonly options: RegistryOptions,
  ) {
    this.meta = new TtlCache(options.metadataTtlMs);
    this.policy = options.policy;
    this.blobs = new BlobStore(driver, this.meta);
    // On object stores the first catalog of a process starts from the list the last walk saved
    // in the bucket (any instance's), answered while a walk checks it: no instance waits for a
    // walk of the whole bucket after a start.
    // Nothing is saved with caching off (berth.metadatattl: 0): nothing would ever start from it.
    this.catalogSaved = driver.listFiles && options.metadataTtlMs > 0 ? new SavedList(driver, CATALOG_SNAPSHOT, 'repositories', isValidName) : undefined;
    const saved = this.catalogSaved;
    this.savedTagIndex = saved ? new SavedTagIndex((path) => driver.listFiles!(path)) : undefined;
    this.catalogListing = new RefreshingValue(() => this.walkCatalog(), options.metadataTtlMs, this.staleListingMs(), saved && (() => saved.read()));
  }

  /**
   * At start-up, on object stores: reads the saved catalog, the first page of which repositories
   * have saved tag lists (SavedTagIndex) and one key of repositories/, so the first requests find
   * them in memory and the store's client past its first-use costs (a cold SDK spends 100-150 ms
   * on its first requests). Without a saved catalog (the
   * first start on a bucket Distribution wrote) the walk that builds one starts now, and its
   * first `firstCatalogPage` names are waited for, as the saved list would have been. Failures
   * are the caller's to log; requests read storage again anyway.
   */
  async warmUp(firstCatalogPage: number): Promise<void> {
    if (!this.driver.listChildren) return;
    const firstListing = this.driver.stat(REPOSITORIES_ROOT).catch((err: unknown) => {
      if (!(err instanceof PathNotFoundError)) throw err;
    });
    await Promise.all([this.catalogListing.prefetch(), firstListing, this.savedTagIndex?.load()]);
    if (this.catalogSaved && this.catalogListing.peek() === undefined) await this.catalog({ after: '', count: firstCatalogPage });
  }

  /** Chooses pull-through repositories for mirrored names (src/proxy); set once at start-up. */
  mirror: RepositoryMirror | undefined;

  /** A repository's stores. The name must already be validated (oci/names.ts). */
  repository(name: string): Repository {
    return this.mirror?.repository(name) ?? new LocalRepository(this, name);
  }

  /** The stores as they are in storage, never proxied. */
  localRepository(name: string, options?: LocalRepositoryOptions): LocalRepository {
    return new LocalRepository(this, name, options);
  }

  /** A repository was removed (LocalRepository.delete): what is kept about it is dropped. */
  async repositoryRemoved(name: string): Promise<void> {
    this.forgetRepository(name);
    if (this.driver.listChildren) await this.savedTags(name).remove();
  }

  /**
   * Another instance changed storage (src/redis/invalidation.ts): cached metadata is dropped, and
   * kept listings take the change in place, so a busy registry does not walk the storage again on
   * every push elsewhere. Without details (after a reconnect, messages may have been lost) tag
   * lists are dropped and the catalog is reloaded while still answered.
   */
  applyRemoteChanges(changes: StorageChange[] | undefined): void {
    this.meta.clear();
    if (!changes) {
      this.tagLists.clear();
      this.catalogListing.expire();
      return;
    }
    for (const change of changes) this.applyRemoteChange(change);
  }

  private applyRemoteChange({ op, path }: StorageChange): void {
    if (!path.startsWith(`${REPOSITORIES_ROOT}/`)) return;
    const at = repositoryFolderOf(path);
    if (!at) {
      // A repository's folder or a namespace, removed whole: which listings it touched is unknown.
      if (op === 'delete') {
        this.tagLists.clear();
        this.catalogListing.expire();
      }
      return;
    }
    if (at.folder !== '_manifests') return;
    const { name } = at;
    const [section, tag, leaf] = at.rest;
    if (op === 'put') {
      this.catalogListing.update((names) => withName(names, name));
      if (section === 'tags' && tag && leaf === 'current') this.tagLists.get(name)?.listing.update((tags) => withName(tags, tag));
    } else if (section === undefined) {
      this.tagLists.delete(name);
      this.catalogListing.update((names) => withoutName(names, name));
    } else if (section === 'tags') {
      if (tag === undefined) this.tagLists.delete(name);
      else if (leaf === undefined) this.tagLists.get(name)?.listing.update((tags) => withoutName(tags, tag));
    }
  }

  /** A repository's kept tag list (see RefreshingValue). */
  tagList(name: string): KeptTags {
    let kept = this.tagLists.get(name);
    if (!kept) {
      const pages = new EarlyPages();
      // On object stores, as the catalog: a saved list to start from, saved again after each full read.
      const saved = this.driver.listChildren && this.options.metadataTtlMs > 0 ? this.savedTags(name) : undefined;
      const load = async () => {
        const tags = await TagStore.read(this.driver, name, pages);
        if (saved) {
          await saved.save(tags);
          this.savedTagIndex?.saved(name);
        }
        return tags;
      };
      const index = this.savedTagIndex;
      const seed = saved && (async () => (!index || index.mayHave(name) ? saved.read() : undefined));
      const listing = new RefreshingValue(load, this.options.metadataTtlMs, this.staleListingMs(), seed);
      const entry: KeptTags = {
        listing,
        pages,
        // A save a second later writes nothing once the list is dropped (repository deleted here or elsewhere).
        changed: (tag, present) => saved?.changed(tag, present, () => (this.tagLists.get(name) === entry ? listing.peek() : undefined)),
      };
      kept = entry;
      this.tagLists.set(name, kept);
    }
    return kept;
  }

  private savedTags(name: string): SavedList {
    return new SavedList(this.driver, savedTagsPath(name), 'tags', isValidTag);
  }

  /** With caching off (several instances without redis) nothing stale is ever answered. */
  private staleListingMs(): number {
    return this.options.metadataTtlMs > 0 ? STALE_LISTING_MS : 0;
  }

  /** Drops cached metadata about a repository (after a repository delete, or a collector's changes). */
  forgetRepository(name: string): void {
    void this.blobs.shared?.forgetRepository(name);
    for (const kind of ['l', 'r']) this.meta.deletePrefix(`${kind}:${name}@`);
    this.meta.deletePrefix(`t:${name}:`);
    this.tagLists.delete(name);
    this.catalogListing.update((names) => withoutName(names, name));
    this.catalogSaved?.changed(name, false, () => this.catalogListing.peek());
  }

  /** Drops cached presence of a manifest revision that was removed behind the stores' back (garbage collection). */
  forgetRevision(name: string, digest: Digest): void {
    this.meta.delete(`r:${name}@${digest.value}`);
  }

  /** This process created a repository (its first manifest). */
  noteRepository(name: string): void {
    this.catalogListing.update((names) => withName(names, name));
    this.catalogSaved?.changed(name, true, () => this.catalogListing.peek());
  }

  /**
   * Every repository holding manifests, sorted (a directory with a `_manifests` child, as
   * Distribution 3 counts them; 2.8 counts `_layers`). With `need`, on object stores, a walk that
   * has to be waited for answers as soon as it has seen that page for certain (EarlyPages).
   */
  catalog(need?: PageNeed): Promise<string[]> {
    const complete = this.catalogListing.get();
    return need && this.driver.listFiles ? this.catalogPages.wait(complete, need) : complete;
  }

  /**
   * Repositories are directories with a `_manifests` child. On object stores one flat, paged
   * listing of every key below repositories/ is far cheaper than a listing request per folder;
   * waiting catalog requests are answered from its first pages when they can be (EarlyPages).
   * On the filesystem every directory below repositories/ is read once, in parallel (the driver
   * bounds how many at a time), by name only: a child starting with "_" is a repository's own
   * folder and is not entered, any other is a further name component.
   */
  private async walkCatalog(): Promise<string[]> {
    const names: string[] = [];
    if (this.driver.listFiles) {
      const prefix = REPOSITORIES_ROOT.length + 1;
      this.catalogPages.clear();
      try {
        for await (const page of this.driver.listFiles(REPOSITORIES_ROOT, skipRepositoryFolder)) {
          for (const path of page) {
            const at = repositoryFolderOf(path);
            const name = at?.folder === '_manifests' && at.rest.length > 0 ? at.name : undefined;
            // A repository's keys are contiguous in key order: one check removes repeats.
            if (name !== undefined && name !== names[names.length - 1]) names.push(name);
          }
          if (page.length === 0) continue;
          const position = page[page.length - 1]!.slice(prefix);
          this.catalogPages.progress(names, (name) => position >= keyOrderBound(name, MANIFESTS_BOUND));
        }
      } finally {
        this.catalogPages.clear();
      }
      names.sort(compareBytes);
      await this.catalogSaved?.save(names);
      return names;
    }
    const visit = async (dir: string, name: string): Promise<void> => {
      const children = await listNames(this.driver, dir);
      const deeper: Promise<void>[] = [];
      for (const child of children) {
        if (child.startsWith('_')) {
          if (child === '_manifests' && name) names.push(name);
        } else {
          deeper.push(visit(`${dir}/${child}`, name ? `${name}/${child}` : child));
        }
      }
      await Promise.all(deeper);
    };
    await visit(REPOSITORIES_ROOT, '');
    return names.sort(compareBytes);
  }
}

/**
 * Where the catalog walk goes on when a listing page ends inside a repository's own folder
 * (`_layers`, `_manifests`, `_uploads`): after that folder, whose other keys tell nothing more. A
 * repository with thousands of tags or layers then costs a request or two, not one per 1000 keys.
 */
function skipRepositoryFolder(lastPath: string): string | undefined {
  const at = repositoryFolderOf(lastPath);
  // "0" sorts right after "/": past every key inside the folder, before the next sibling.
  return at && at.rest.length > 0 ? `${repositoryPath(at.name)}/${at.folder}0` : undefined;
}

/** Every key below a repository's `_manifests` sorts before `<name>` followed by this. */
const MANIFESTS_BOUND = '/_manifests0';

/** A repository's kept tag list and the page requests waiting for its load. */
export interface KeptTags {
  listing: RefreshingValue<string[]>;
  pages: EarlyPages;
  /** This process added or removed a tag: the saved list (object stores) follows. */
  changed(tag: string, present: boolean): void;
}
