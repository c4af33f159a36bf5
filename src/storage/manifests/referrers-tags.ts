import { digestOf, type Digest } from '../../oci/digest.js';
import { RegistryError } from '../../oci/errors.js';
import { MediaTypes } from '../../oci/descriptor.js';
import { referrersTag } from '../../oci/graph.js';
import { findReferrers, referrersIndex } from '../referrers.js';
import type { TagStore } from '../tags.js';
import type { ManifestStore } from './store.js';

/**
 * `berth.referrers.fallbacktags`: keeps the distribution spec's referrers tag schema beside the
 * referrers API. A registry without the API (Distribution) lists a subject's referrers under the
 * tag `<alg>-<ref>`, an image index clients maintain; Berth maintains it itself, so that storage
 * moved to such a registry keeps its signatures and SBOMs discoverable.
 *
 * The index is rebuilt from the repository's revisions (the referrers API's own answer) whenever
 * a manifest with a subject is stored or deleted, never patched: a rebuild that raced another
 * converges at the next one. Rebuilds of one subject run one at a time in this process. The
 * previous index revision is removed once no tag names it; a tag that names something other than
 * an image index is not Berth's to replace and is left alone.
 */
export class ReferrersTagKeeper {
  private readonly running = new Map<string, Promise<void>>();

  /** Brings the subject's referrers tag up to date in `store`'s repository. */
  update(store: ManifestStore, tags: TagStore, subject: Digest): Promise<void> {
    const key = `${store.name}@${subject.value}`;
    const previous = this.running.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.rebuild(store, tags, subject));
    const tracked = next.finally(() => {
      if (this.running.get(key) === tracked) this.running.delete(key);
    });
    this.running.set(key, tracked);
    return next;
  }

  /** A referrer deleted between the scan and the index's PUT fails its reference check: scan again. */
  private async rebuild(store: ManifestStore, tags: TagStore, subject: Digest): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.rebuildOnce(store, tags, subject);
      } catch (err) {
        if (attempt >= 3 || !(err instanceof RegistryError && err.code === 'MANIFEST_BLOB_UNKNOWN')) throw err;
      }
    }
  }

  private async rebuildOnce(store: ManifestStore, tags: TagStore, subject: Digest): Promise<void> {
    const tag = referrersTag(subject);
    const current = await tags.resolve(tag);
    if (current && (await store.info(current))?.mediaType !== MediaTypes.ociIndex) return;
    const referrers = await findReferrers(store, subject);
    if (referrers.length === 0) {
      if (current) {
        await tags.untag(tag);
        await dropIfUntagged(store, tags, current);
      }
      return;
    }
    const content = Buffer.from(JSON.stringify(referrersIndex(referrers)));
    if (current?.value === digestOf(content, 'sha256').value) return;
    await store.put(content, MediaTypes.ociIndex, { tag });
    if (current) await dropIfUntagged(store, tags, current);
  }
}

async function dropIfUntagged(store: ManifestStore, tags: TagStore, digest: Digest): Promise<void> {
  if ((await tags.lookup(digest)).length === 0) await store.delete(digest);
}
