import type { Digest } from '../oci/digest.js';
import type { StorageDriver } from './driver/types.js';
import { compareBytes, keyOrderBound, pageEnd, withName, withoutName, type EarlyPages, type MetadataCache, type PageNeed } from './cache.js';
import type { KeptTags } from './registry.js';
import { tryParseDigest } from '../oci/digest.js';
import { deleteIfExists, listNames, readLink, writeLink } from './links.js';
import type { RepositoryTags } from './repository.js';
import { tagCurrentLinkPath, tagDir, tagIndexLinkPath, tagsDir } from './paths.js';

/** Tags of one repository: `_manifests/tags/<tag>/current/link` plus the history index. */
export class TagStore implements RepositoryTags {
  constructor(
    private readonly driver: StorageDriver,
    private readonly meta: MetadataCache,
    readonly name: string,
    /** The repository's sorted tag list, kept across requests (Registry.tagList). */
    private readonly kept: KeptTags,
  ) {}

  async resolve(tag: string): Promise<Digest | undefined> {
    const value = await this.meta.through(this.key(tag), async () => (await readLink(this.driver, tagCurrentLinkPath(this.name, tag)))?.value);
    return typeof value === 'string' ? tryParseDigest(value) : undefined;
  }

  private key(tag: string): string {
    return `t:${this.name}:${tag}`;
  }

  /** Points tag at digest. The index entry is written first so `current` never names an unindexed digest. */
  async tag(tag: string, digest: Digest): Promise<void> {
    await writeLink(this.driver, tagIndexLinkPath(this.name, tag, digest), digest);
    await writeLink(this.driver, tagCurrentLinkPath(this.name, tag), digest);
    this.meta.set(this.key(tag), digest.value);
    this.kept.listing.update((tags) => withName(tags, tag));
    this.kept.changed(tag, true);
  }

  async untag(tag: string): Promise<boolean> {
    this.meta.delete(this.key(tag));
    this.kept.listing.update((tags) => withoutName(tags, tag));
    this.kept.changed(tag, false);
    return deleteIfExists(this.driver, tagDir(this.name, tag));
  }

  /**
   * Every tag, sorted lexically (byte order, as the spec's pagination requires). With `need`, on
   * object stores, a listing that has to be waited for answers as soon as it has seen that page
   * for certain: the list is then complete up to the page's last tag, not beyond.
   */
  async list(need?: PageNeed): Promise<string[]> {
    // A saved list, when there is one, answers before any listing could.
    if (need?.after) await this.kept.listing.prefetch();
    const complete = this.kept.listing.get();
    if (!need || !this.driver.listChildren) return complete;
    const early = this.kept.pages.wait(complete, need);
    if (!need.after || this.kept.listing.peek() !== undefined) return early;
    // Nothing kept yet and a page from the middle: a listing from `after` on shows it sooner
    // than the whole-folder load behind it; whichever has it first answers.
    const fromAfter = TagStore.readPage(this.driver, this.name, need).catch(() => early);
    return Promise.race([early, fromAfter]);
  }

  /**
   * The tags after `need.after`, listed from there (a tag T sorting after A has its entry "T/"
   * at or after A itself in key order, so starting the listing after A leaves none out), until
   * the page is certain or the folder ends. Complete from `need.after` up to the page's end.
   */
  private static async readPage(driver: StorageDriver, name: string, need: PageNeed): Promise<string[]> {
    const tags = await TagStore.scan(driver, name, need.after, (listed, seenUpTo) => {
      const end = pageEnd([...listed].sort(compareBytes), need);
      return end !== undefined && seenUpTo(end);
    });
    return tags.filter((t) => t > need.after).sort(compareBytes);
  }

  /** Reads the tag list from storage, telling `pages` what each page of a paged listing showed. */
  static async read(driver: StorageDriver, name: string, pages?: EarlyPages): Promise<string[]> {
    if (!driver.listChildren) return (await listNames(driver, tagsDir(name))).sort(compareBytes);
    pages?.clear();
    try {
      const tags = await TagStore.scan(driver, name, undefined, (listed, seenUpTo) => {
        pages?.progress(listed, seenUpTo);
        return false;
      });
      return tags.sort(compareBytes);
    } finally {
      pages?.clear();
    }
  }

  /**
   * Lists the tag folder page by page (from `after` on when given). After each page `onPage` is
   * told the tags listed so far and which tags are certainly all listed up to; it returns true
   * to stop there.
   */
  private static async scan(
    driver: StorageDriver,
    name: string,
    after: string | undefined,
    onPage: (listed: string[], seenUpTo: (tag: string) => boolean) => boolean,
  ): Promise<string[]> {
    const tags: string[] = [];
    for await (const page of driver.listChildren!(tagsDir(name), after)) {
      for (const entry of page) tags.push(entry.endsWith('/') ? entry.slice(0, -1) : entry);
      // A tag's entry is "<tag>/", so the tags at or before X have all been listed once the
      // listing has passed the bound of X's prefixes followed by "/".
      const position = page[page.length - 1];
      if (position !== undefined && onPage(tags, (tag) => position >= keyOrderBound(tag, '/'))) break;
    }
    return tags;
  }

  /** Tags whose current link names digest. */
  async lookup(digest: Digest): Promise<string[]> {
    const tags = await this.list();
    const hits: string[] = [];
    await Promise.all(
      tags.map(async (tag) => {
        if ((await this.resolve(tag))?.value === digest.value) hits.push(tag);
      }),
    );
    return hits.sort(compareBytes);
  }
}
