import type { Digest } from '../oci/digest.js';
import { tryParseDigest } from '../oci/digest.js';
import type { StorageDriver } from './driver/types.js';
import type { Listings } from './listing/listings.js';
import { compareBytes, type PageNeed } from './listing/sorted.js';
import { deleteIfExists, readLink, writeLink } from './links.js';
import { metadataKeys, type MetadataCache } from './metadata-cache.js';
import { tagCurrentLinkPath, tagDir, tagIndexLinkPath } from './paths.js';
import type { RepositoryTags } from './repository.js';

/**
 * Tags of one repository: `_manifests/tags/<tag>/current/link` plus the history index. The list of
 * tags is the repository's TagList (src/storage/listing/tag-list.ts), which follows every tag
 * written or removed through StorageChanges.
 */
export class TagStore implements RepositoryTags {
  constructor(
    private readonly driver: StorageDriver,
    private readonly meta: MetadataCache,
    readonly name: string,
    private readonly listings: Listings,
  ) {}

  async resolve(tag: string): Promise<Digest | undefined> {
    const value = await this.meta.through(metadataKeys.tag(this.name, tag), async () => (await readLink(this.driver, tagCurrentLinkPath(this.name, tag)))?.value);
    return value !== undefined ? tryParseDigest(value) : undefined;
  }

  /** Points tag at digest. The index entry is written first so `current` never names an unindexed digest. */
  async tag(tag: string, digest: Digest): Promise<void> {
    await writeLink(this.driver, tagIndexLinkPath(this.name, tag, digest), digest);
    await writeLink(this.driver, tagCurrentLinkPath(this.name, tag), digest);
    this.meta.set(metadataKeys.tag(this.name, tag), digest.value);
  }

  async untag(tag: string): Promise<boolean> {
    return deleteIfExists(this.driver, tagDir(this.name, tag));
  }

  list(need?: PageNeed): Promise<string[]> {
    return this.listings.tagList(this.name).list(need);
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
