import type { Digest } from '../oci/digest.js';
import { tryParseDigest } from '../oci/digest.js';
import type { StorageDriver } from './driver/types.js';
import type { Listings } from './listing/listings.js';
import { compareBytes, type PageNeed } from './listing/sorted.js';
import { isPathNotFound } from './driver/errors.js';
import { deleteIfExists, readLink, writeLink } from './links.js';
import { immutableTagError, type StorageRules } from './rules.js';
import type { TagLocks } from './tag-locks.js';
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
    private readonly rules: StorageRules,
    private readonly locks: TagLocks,
  ) {}

  /**
   * Runs `write` holding the tag's lock when policy needs its writes serialized
   * (StorageRules.serializes: immutable tags, tags retention may remove), else at once.
   */
  private async serialized<T>(tag: string, write: () => Promise<T>): Promise<T> {
    if (!this.rules.serializes(this.name, tag)) return write();
    const hold = await this.locks.hold(this.name, tag);
    try {
      return await write();
    } finally {
      hold.release();
    }
  }

  async resolve(tag: string): Promise<Digest | undefined> {
    const value = await this.meta.through(metadataKeys.tag(this.name, tag), async () => (await readLink(this.driver, tagCurrentLinkPath(this.name, tag)))?.value);
    return value !== undefined ? tryParseDigest(value) : undefined;
  }

  cachedTarget(tag: string): Digest | undefined {
    const value = this.meta.get(metadataKeys.tag(this.name, tag));
    return value !== undefined ? tryParseDigest(value) : undefined;
  }

  recent(tag: string): { digest: Digest; fresh: boolean } | undefined {
    const kept = this.meta.peek(metadataKeys.tag(this.name, tag));
    const digest = kept ? tryParseDigest(kept.value) : undefined;
    return kept && digest ? { digest, fresh: kept.fresh } : undefined;
  }

  /**
   * Refuses (403 DENIED) to point an immutable tag that exists at another digest; pointing it at
   * the digest it names already is a retried push, and succeeds. Reads storage, not the cache:
   * another instance may have just written the tag.
   */
  async checkTag(tag: string, digest: Digest): Promise<void> {
    const rule = this.rules.immutable(this.name, tag);
    if (!rule) return;
    const current = await readLink(this.driver, tagCurrentLinkPath(this.name, tag));
    if (current && current.value !== digest.value) throw immutableTagError(this.name, tag, rule, `it points at ${current.value} and cannot be moved`);
  }

  /**
   * Points tag at digest. The index entry is written first so `current` never names an unindexed
   * digest. An immutable tag is checked again under its lock: of two first pushes to different
   * manifests, the second sees the first's and is refused.
   */
  async tag(tag: string, digest: Digest): Promise<void> {
    await this.serialized(tag, async () => {
      await this.checkTag(tag, digest);
      await writeLink(this.driver, tagIndexLinkPath(this.name, tag, digest), digest);
      await writeLink(this.driver, tagCurrentLinkPath(this.name, tag), digest);
      this.meta.set(metadataKeys.tag(this.name, tag), digest.value);
    });
  }

  /** Removes the tag (refused, 403 DENIED, for an immutable tag that exists); false when there was none. */
  untag(tag: string): Promise<boolean> {
    return this.serialized(tag, async () => {
      const rule = this.rules.immutable(this.name, tag);
      if (rule && (await readLink(this.driver, tagCurrentLinkPath(this.name, tag)))) throw immutableTagError(this.name, tag, rule, 'it cannot be deleted');
      return deleteIfExists(this.driver, tagDir(this.name, tag));
    });
  }

  /**
   * Removes the tag only while it still points at `digest` and was last written no later than
   * `notAfter` (ms, storage's clock): a tag pushed again meanwhile, here or by another instance,
   * stays, and so does an immutable one. For retention, which decided on what it read earlier.
   * The re-check and the delete hold the tag's lock, which pushes to a tag retention covers take
   * too: no push lands between them.
   */
  async untagIf(tag: string, digest: Digest, notAfter: number): Promise<boolean> {
    if (this.rules.immutable(this.name, tag)) return false;
    return this.serialized(tag, async () => {
      const path = tagCurrentLinkPath(this.name, tag);
      try {
        const [current, info] = await Promise.all([readLink(this.driver, path), this.driver.stat(path)]);
        if (current?.value !== digest.value || info.modTime.getTime() > notAfter) return false;
      } catch (err) {
        if (isPathNotFound(err)) return false;
        throw err;
      }
      return deleteIfExists(this.driver, tagDir(this.name, tag));
    });
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
