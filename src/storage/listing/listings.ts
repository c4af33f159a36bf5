import { PathNotFoundError } from '../driver/errors.js';
import type { StorageDriver } from '../driver/types.js';
import { LruCache } from '../lru.js';
import type { StorageModes } from '../modes.js';
import { REPOSITORIES_ROOT } from '../paths.js';
import { Catalog } from './catalog.js';
import { SavedTagIndex } from './saved-list.js';
import { TagList, savedTagList } from './tag-list.js';

/**
 * What a registry keeps of its listings: the catalog, and the tag lists of the repositories
 * listed lately. StorageChanges (src/storage/changes.ts) keeps them up to date with every change,
 * this process's and others'; TagStore reads its repository's list from here.
 */
export class Listings {
  readonly catalog: Catalog;
  private readonly tagLists = new LruCache<TagList>(1_000);
  private readonly savedTagIndex: SavedTagIndex | undefined;

  constructor(
    private readonly driver: StorageDriver,
    private readonly modes: StorageModes,
  ) {
    this.catalog = new Catalog(driver, modes);
    const savedLists = modes.savedLists;
    this.savedTagIndex = savedLists && new SavedTagIndex((path) => savedLists.listFiles(path));
  }

  /** A repository's tag list, kept from now on when it was not. */
  tagList(name: string): TagList {
    let list = this.tagLists.get(name);
    if (!list) {
      const made: TagList = new TagList(this.driver, name, this.modes, this.savedTagIndex, () => this.tagLists.get(name) === made);
      list = made;
      this.tagLists.set(name, list);
    }
    return list;
  }

  /** The repository's tag list when one is kept. */
  keptTagList(name: string): TagList | undefined {
    return this.tagLists.get(name);
  }

  /** Forgets a repository's tag list (its tags went away whole): the next listing reads storage. */
  dropTagList(name: string): void {
    this.tagLists.delete(name);
  }

  dropTagLists(which: (name: string) => boolean): void {
    for (const name of this.tagLists.keys()) if (which(name)) this.tagLists.delete(name);
  }

  /** Changes may have been missed: tag lists are read again, the catalog once more answered while it is. */
  reloadAll(): void {
    this.tagLists.clear();
    this.catalog.expire();
  }

  /** The repository was deleted here: its saved tag list goes too (object stores; one saved while caching was on may be there). */
  async repositoryRemoved(name: string): Promise<void> {
    if (this.modes.keyListing) await savedTagList(this.driver, name).remove();
  }

  /**
   * At start-up, on object stores: reads the saved catalog, the first page of which repositories
   * have saved tag lists (SavedTagIndex) and one key of repositories/, so the first requests find
   * them in memory and the store's client past its first-use costs (a cold SDK spends 100-150 ms
   * on its first requests). Failures are the caller's to log; requests read storage again anyway.
   */
  async warmUp(firstCatalogPage: number): Promise<void> {
    if (!this.modes.keyListing) return;
    const firstListing = this.driver.stat(REPOSITORIES_ROOT).catch((err: unknown) => {
      if (!(err instanceof PathNotFoundError)) throw err;
    });
    await Promise.all([this.catalog.warmUp(firstCatalogPage), firstListing, this.savedTagIndex?.load()]);
  }
}
