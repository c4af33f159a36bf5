import { isValidTag } from '../../oci/names.js';
import type { ChangeOrigin } from '../changes.js';
import type { StorageDriver } from '../driver/types.js';
import { listNames } from '../links.js';
import type { KeyListingDriver, StorageModes } from '../modes.js';
import { savedTagsPath, tagsDir } from '../paths.js';
import { EarlyPages } from './early-pages.js';
import { KeptList } from './kept-list.js';
import { SavedList, type SavedTagIndex } from './saved-list.js';
import { compareBytes, keyOrderBound, pageEnd, withName, withoutName, type PageNeed } from './sorted.js';

/**
 * One repository's tags, sorted lexically (byte order, as the spec's pagination requires) and kept
 * in memory (KeptList). On object stores the folder is read page by page, a page asked for while
 * that runs is answered once the pages read show it (EarlyPages), and the list starts from the
 * one saved beside the layout (saved again after each full read).
 */
export class TagList {
  private readonly kept: KeptList<string[]>;
  private readonly pages = new EarlyPages();
  private readonly saved: SavedList | undefined;

  constructor(
    private readonly driver: StorageDriver,
    readonly name: string,
    private readonly modes: StorageModes,
    /** Which repositories have a saved tag list (object stores). */
    index: SavedTagIndex | undefined,
    /** False once this list has been dropped (its repository deleted here or elsewhere): a save due then writes nothing. */
    private readonly current: () => boolean,
  ) {
    const saved = modes.savedLists && savedTagList(driver, name);
    this.saved = saved;
    const load = async () => {
      const tags = await this.read();
      if (saved) {
        await saved.save(tags);
        index?.saved(name);
      }
      return tags;
    };
    const startFrom = saved && (async () => (!index || index.mayHave(name) ? saved.read() : undefined));
    this.kept = new KeptList({ load, ttlMs: modes.ttlMs, staleMs: modes.staleListingMs, startFrom });
  }

  /**
   * Every tag. With `need`, on object stores, a listing that has to be waited for answers as
   * soon as it has seen that page for certain: the list is then complete up to the page's last
   * tag, not beyond.
   */
  async list(need?: PageNeed): Promise<string[]> {
    // A saved list, when there is one, answers before any listing could.
    if (need?.after) await this.kept.prefetch();
    const complete = this.kept.get();
    const keyListing = this.modes.keyListing;
    if (!need || !keyListing) return complete;
    const early = this.pages.wait(complete, need);
    if (!need.after || this.kept.peek() !== undefined) return early;
    // Nothing kept yet and a page from the middle: a listing from `after` on shows it sooner
    // than the whole-folder load behind it; whichever has it first answers.
    const fromAfter = this.readPage(keyListing, need).catch(() => early);
    return Promise.race([early, fromAfter]);
  }

  added(tag: string, origin: ChangeOrigin): void {
    this.kept.update((tags) => withName(tags, tag));
    if (origin === 'local') this.saved?.changed(tag, 'added', () => this.peekCurrent());
  }

  removed(tag: string, origin: ChangeOrigin): void {
    this.kept.update((tags) => withoutName(tags, tag));
    if (origin === 'local') this.saved?.changed(tag, 'removed', () => this.peekCurrent());
  }

  private peekCurrent(): string[] | undefined {
    return this.current() ? this.kept.peek() : undefined;
  }

  /**
   * The tags after `need.after`, listed from there (a tag T sorting after A has its entry "T/"
   * at or after A itself in key order, so starting the listing after A leaves none out), until
   * the page is certain or the folder ends. Complete from `need.after` up to the page's end.
   */
  private async readPage(driver: KeyListingDriver, need: PageNeed): Promise<string[]> {
    const tags = await this.scan(driver, need.after, (listed, seenUpTo) => {
      const end = pageEnd([...listed].sort(compareBytes), need);
      return end !== undefined && seenUpTo(end);
    });
    return tags.filter((t) => t > need.after).sort(compareBytes);
  }

  /** Reads the whole list from storage, telling waiting page requests what each page showed. */
  private async read(): Promise<string[]> {
    const keyListing = this.modes.keyListing;
    if (!keyListing) return (await listNames(this.driver, tagsDir(this.name))).sort(compareBytes);
    this.pages.clear();
    try {
      const tags = await this.scan(keyListing, undefined, (listed, seenUpTo) => {
        this.pages.progress(listed, seenUpTo);
        return false;
      });
      return tags.sort(compareBytes);
    } finally {
      this.pages.clear();
    }
  }

  /**
   * Lists the tag folder page by page (from `after` on when given). After each page `onPage` is
   * told the tags listed so far and which tags are certainly all listed up to; it returns true
   * to stop there.
   */
  private async scan(driver: KeyListingDriver, after: string | undefined, onPage: (listed: string[], seenUpTo: (tag: string) => boolean) => boolean): Promise<string[]> {
    const tags: string[] = [];
    for await (const page of driver.listChildren(tagsDir(this.name), after)) {
      for (const entry of page) tags.push(entry.endsWith('/') ? entry.slice(0, -1) : entry);
      // A tag's entry is "<tag>/", so the tags at or before X have all been listed once the
      // listing has passed the bound of X's prefixes followed by "/".
      const position = page[page.length - 1];
      if (position !== undefined && onPage(tags, (tag) => position >= keyOrderBound(tag, '/'))) break;
    }
    return tags;
  }
}

/** A repository's saved tag list (object stores). */
export function savedTagList(driver: StorageDriver, name: string): SavedList {
  return new SavedList(driver, savedTagsPath(name), 'tags', isValidTag);
}
