import type { StorageDriver } from '../driver/types.js';
import { deleteIfExists } from '../links.js';
import { SAVED_TAGS_ROOT, savedTagsOwner, savedTagsPath } from '../paths.js';
import { compareBytes, sortedIndex } from './sorted.js';

/**
 * A sorted list of names saved beside Distribution's layout on object stores (the catalog, a
 * repository's tags: src/storage/paths.ts), so that a process that starts answers its first
 * listing from it while it reads storage again (KeptList's startFrom). It is only ever a
 * starting point: every full read of storage replaces it.
 */
export class SavedList {
  /** What the file held when this process last read or wrote it. */
  private saved: string[] | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly driver: StorageDriver,
    private readonly path: string,
    /** The JSON field holding the names. */
    private readonly field: string,
    private readonly valid: (name: string) => boolean,
  ) {}

  /** The saved names, or undefined when there are none or the file is unreadable, not JSON or names something invalid. */
  async read(): Promise<string[] | undefined> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(await this.driver.getContent(this.path)).toString('utf8'));
    } catch {
      return undefined;
    }
    const names = (parsed as Record<string, unknown> | null)?.[this.field];
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && this.valid(n))) return undefined;
    this.saved = [...names].sort(compareBytes);
    return this.saved;
  }

  /** Saves `names` (sorted) when they differ from what is saved; failing to is not the request's problem. */
  async save(names: string[]): Promise<void> {
    if (this.saved && this.saved.length === names.length && this.saved.every((n, i) => n === names[i])) return;
    try {
      await this.driver.putContent(this.path, Buffer.from(JSON.stringify({ written: new Date().toISOString(), [this.field]: names })));
      this.saved = names;
    } catch {
      // The next full read tries again.
    }
  }

  /**
   * This process added or removed `name`: unless the saved list already agrees, it
   * is saved again a second later, as `current()` has it then. Other instances hear of the change
   * over redis and leave the saving to this one. Before anything was read or saved here, the
   * next full read saves the list.
   */
  changed(name: string, change: 'added' | 'removed', current: () => string[] | undefined): void {
    const saved = this.saved;
    if (!saved || this.timer) return;
    if ((saved[sortedIndex(saved, name)] === name) === (change === 'added')) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const names = current();
      if (names) void this.save(names);
    }, 1000);
    this.timer.unref();
  }

  /** Removes the saved list (its repository is gone). */
  async remove(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.saved = undefined;
    await deleteIfExists(this.driver, this.path).catch(() => undefined);
  }
}

/**
 * Which repositories have a saved tag list, from a listing of the saved lists' folder in key
 * order at start-up: a repository whose file sorts within what has been listed and was not among
 * it has none, and its first tag list goes straight to listing the store instead of first asking
 * for a file that is not there (a round trip, 3-9 ms on RGW). A shortcut only: a list that another
 * instance saves later is not known here, and the store's listing is read instead.
 */
export class SavedTagIndex {
  private readonly names = new Set<string>();
  /** The last path listed; undefined while nothing is known (every repository may have a list). */
  private listedUpTo: string | undefined;
  private complete = false;

  constructor(private readonly listFiles: (path: string) => AsyncIterable<string[]>) {}

  /** Lists the folder; resolves once its first page is in, the rest goes on behind. */
  load(): Promise<void> {
    return new Promise((firstPage) => {
      void (async () => {
        try {
          for await (const page of this.listFiles(SAVED_TAGS_ROOT)) {
            for (const path of page) {
              const name = savedTagsOwner(path);
              if (name !== undefined) this.names.add(name);
            }
            if (page.length > 0) this.listedUpTo = page[page.length - 1];
            firstPage();
          }
          this.complete = true;
        } catch {
          this.listedUpTo = undefined; // unknown again: every repository may have a list
        }
        firstPage();
      })();
    });
  }

  /** False only when the listing shows `name` has no saved tag list. */
  mayHave(name: string): boolean {
    if (this.names.has(name)) return true;
    if (this.complete) return false;
    return this.listedUpTo === undefined || savedTagsPath(name) > this.listedUpTo;
  }

  /** This process saved `name`'s list. */
  saved(name: string): void {
    this.names.add(name);
  }
}
