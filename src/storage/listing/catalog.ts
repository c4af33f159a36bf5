import { isValidName } from '../../oci/names.js';
import type { ChangeOrigin } from '../changes.js';
import type { StorageDriver } from '../driver/types.js';
import { listNames } from '../links.js';
import type { StorageModes } from '../modes.js';
import { CATALOG_SNAPSHOT, REPOSITORIES_ROOT, repositoryFolderOf, repositoryPath } from '../paths.js';
import { EarlyPages } from './early-pages.js';
import { KeptList } from './kept-list.js';
import { SavedList } from './saved-list.js';
import { compareBytes, keyOrderBound, withName, type PageNeed } from './sorted.js';

/**
 * The catalog: every repository holding manifests, sorted (a directory with a `_manifests` child,
 * as Distribution 3 counts them; 2.8 counts `_layers`), kept in memory (KeptList). On object
 * stores it starts from the list the last walk saved in the bucket (any instance's), answered
 * while a walk checks it, so no instance waits for a walk of the whole bucket after a start; and
 * a page asked for while a walk runs is answered from its first pages once they show it
 * (EarlyPages). Nothing is saved with caching off: nothing would ever start from it.
 */
export class Catalog {
  private readonly kept: KeptList<string[]>;
  private readonly pages = new EarlyPages();
  private readonly saved: SavedList | undefined;

  constructor(
    private readonly driver: StorageDriver,
    private readonly modes: StorageModes,
  ) {
    const saved = modes.savedLists && new SavedList(driver, CATALOG_SNAPSHOT, 'repositories', isValidName);
    this.saved = saved;
    this.kept = new KeptList({ load: () => this.walk(), ttlMs: modes.ttlMs, staleMs: modes.staleListingMs, startFrom: saved && (() => saved.read()) });
  }

  /**
   * The sorted names. With `need`, on object stores, a walk that has to be waited for answers as
   * soon as it has seen that page for certain: complete up to the page's last name, not beyond.
   */
  list(need?: PageNeed): Promise<string[]> {
    const complete = this.kept.get();
    return need && this.modes.keyListing ? this.pages.wait(complete, need) : complete;
  }

  /**
   * At start-up: reads the saved list, or without one (the first start on a bucket Distribution
   * wrote) starts the walk that builds one and waits for its first `firstPage` names, as the saved
   * list would have been.
   */
  async warmUp(firstPage: number): Promise<void> {
    await this.kept.prefetch();
    if (this.saved && this.kept.peek() === undefined) await this.list({ after: '', count: firstPage });
  }

  /** A repository got a manifest or tag. */
  added(name: string, origin: ChangeOrigin): void {
    this.kept.update((names) => withName(names, name));
    if (origin === 'local') this.saved?.changed(name, 'added', () => this.kept.peek());
  }

  /** Repositories went away (their `_manifests`, or a directory holding them). */
  removed(gone: (name: string) => boolean, origin: ChangeOrigin): void {
    const before = this.kept.peek();
    this.kept.update((names) => (names.some(gone) ? names.filter((n) => !gone(n)) : names));
    if (origin === 'local') for (const name of before?.filter(gone) ?? []) this.saved?.changed(name, 'removed', () => this.kept.peek());
  }

  /** The kept list may have missed changes: answered once more while it is read again. */
  expire(): void {
    this.kept.expire();
  }

  /**
   * Repositories are directories with a `_manifests` child. On object stores one flat, paged
   * listing of every key below repositories/ is far cheaper than a listing request per folder;
   * waiting requests are answered from its first pages when they can be. On the filesystem every
   * directory below repositories/ is read once, in parallel (the driver bounds how many at a
   * time), by name only: a child starting with "_" is a repository's own folder and is not
   * entered, any other is a further name component.
   */
  private async walk(): Promise<string[]> {
    const names: string[] = [];
    const keyListing = this.modes.keyListing;
    if (keyListing) {
      const prefix = REPOSITORIES_ROOT.length + 1;
      this.pages.clear();
      try {
        for await (const page of keyListing.listFiles(REPOSITORIES_ROOT, skipRepositoryFolder)) {
          for (const path of page) {
            const at = repositoryFolderOf(path);
            const name = at?.folder === '_manifests' && at.rest.length > 0 ? at.name : undefined;
            // A repository's keys are contiguous in key order: one check removes repeats.
            if (name !== undefined && name !== names[names.length - 1]) names.push(name);
          }
          if (page.length === 0) continue;
          const position = page[page.length - 1]!.slice(prefix);
          this.pages.progress(names, (name) => position >= keyOrderBound(name, MANIFESTS_BOUND));
        }
      } finally {
        this.pages.clear();
      }
      names.sort(compareBytes);
      await this.saved?.save(names);
      return names;
    }
    // Directories still to read, WALK_READS at a time, newest first (so the list stays short).
    // Starting every read at once held a pending read per directory: 80 MiB at 10,000 repositories.
    const queue: Array<{ dir: string; name: string }> = [{ dir: REPOSITORIES_ROOT, name: '' }];
    let active = 0;
    await new Promise<void>((resolve, reject) => {
      const next = (): void => {
        if (queue.length === 0 && active === 0) return resolve();
        while (active < WALK_READS && queue.length > 0) {
          const { dir, name } = queue.pop()!;
          active++;
          listNames(this.driver, dir).then((children) => {
            for (const child of children) {
              if (child.startsWith('_')) {
                if (child === '_manifests' && name) names.push(name);
              } else queue.push({ dir: `${dir}/${child}`, name: name ? `${name}/${child}` : child });
            }
            active--;
            next();
          }, reject);
        }
      };
      next();
    });
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

/** Directory reads a filesystem catalog walk keeps in flight. */
const WALK_READS = 32;

/** Every key below a repository's `_manifests` sorts before `<name>` followed by this. */
const MANIFESTS_BOUND = '/_manifests0';
