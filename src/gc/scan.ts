import { tryParseDigest, type Digest } from '../oci/digest.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import type { StorageDriver } from '../storage/driver/types.js';
import { readLink } from '../storage/links.js';
import { BLOBS_ROOT, REPOSITORIES_ROOT } from '../storage/paths.js';

/** One repository as found on storage. Digests are keyed by their string value. */
export interface RepositoryScan {
  readonly name: string;
  /** `_manifests/revisions` entries: digest → link modification time (ms). */
  readonly revisions: Map<string, { digest: Digest; modTime: number }>;
  /** `_layers` entries: digest → link modification time (ms). */
  readonly layers: Map<string, number>;
  /** Tag → the digest its `current` link names (tags whose link is unreadable are left out). */
  readonly tags: Map<string, string>;
}

export interface StoredBlob {
  readonly digest: Digest;
  readonly size: number;
  readonly modTime: number;
}

// <repo>/_layers/<alg>/<hex>/link, <repo>/_manifests/revisions/<alg>/<hex>/link,
// <repo>/_manifests/tags/<tag>/current/link. A repository path component never starts with "_",
// so the first "/_" ends the name.
const LAYER = /^(.+?)\/_layers\/([a-z0-9]+)\/([a-f0-9]+)\/link$/;
const REVISION = /^(.+?)\/_manifests\/revisions\/([a-z0-9]+)\/([a-f0-9]+)\/link$/;
const TAG = /^(.+?)\/_manifests\/tags\/([^/]+)\/current\/link$/;

/**
 * Every repository with its revisions, layer links and tags, in one walk of the repositories
 * tree (uploads are not entered). Works on roots written by Distribution and by Berth alike:
 * digests are read from link paths, as Distribution enumerates them.
 */
export async function scanRepositories(driver: StorageDriver): Promise<Map<string, RepositoryScan>> {
  const repos = new Map<string, RepositoryScan>();
  const tagLinks: Array<{ repo: RepositoryScan; tag: string; path: string }> = [];
  const repo = (name: string): RepositoryScan => {
    let r = repos.get(name);
    if (!r) repos.set(name, (r = { name, revisions: new Map(), layers: new Map(), tags: new Map() }));
    return r;
  };
  const prefix = REPOSITORIES_ROOT.length + 1;
  try {
    await driver.walk(REPOSITORIES_ROOT, (info) => {
      if (info.isDir) return info.path.endsWith('/_uploads') ? 'skip' : undefined;
      const rel = info.path.slice(prefix);
      let m = REVISION.exec(rel);
      if (m) {
        const digest = tryParseDigest(`${m[2]}:${m[3]}`);
        if (digest) repo(m[1]!).revisions.set(digest.value, { digest, modTime: info.modTime.getTime() });
        return;
      }
      m = LAYER.exec(rel);
      if (m) {
        const digest = tryParseDigest(`${m[2]}:${m[3]}`);
        if (digest) repo(m[1]!).layers.set(digest.value, info.modTime.getTime());
        return;
      }
      m = TAG.exec(rel);
      if (m) tagLinks.push({ repo: repo(m[1]!), tag: m[2]!, path: info.path });
      return;
    });
  } catch (err) {
    if (!isPathNotFound(err)) throw err;
  }
  await inBatches(tagLinks, 16, async ({ repo: r, tag, path }) => {
    const target = await readLink(driver, path);
    if (target) r.tags.set(tag, target.value);
  });
  return repos;
}

/** Every blob under blobs/ (a `data` file at <alg>/<2 hex>/<hex>/data). */
export async function scanBlobs(driver: StorageDriver): Promise<StoredBlob[]> {
  const out: StoredBlob[] = [];
  const prefix = BLOBS_ROOT.length + 1;
  try {
    await driver.walk(BLOBS_ROOT, (info) => {
      if (info.isDir) return;
      const parts = info.path.slice(prefix).split('/');
      if (parts.length !== 4 || parts[3] !== 'data' || parts[2]!.slice(0, 2) !== parts[1]) return;
      const digest = tryParseDigest(`${parts[0]}:${parts[2]}`);
      if (digest) out.push({ digest, size: info.size, modTime: info.modTime.getTime() });
    });
  } catch (err) {
    if (!isPathNotFound(err)) throw err;
  }
  return out;
}

/** Runs `task` over items with at most `width` in flight. */
export async function inBatches<T>(items: readonly T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
