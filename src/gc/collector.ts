import type { Digest } from '../oci/digest.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import type { StorageDriver } from '../storage/driver/types.js';
import { BlobGuard } from '../storage/blob-guard.js';
import { deleteIfExists, listNames, readLink } from '../storage/links.js';
import { blobDataPath, blobDir, revisionDir, revisionLinkPath, tagCurrentLinkPath, tagDir, tagsDir } from '../storage/paths.js';
import type { Registry } from '../storage/registry.js';
import { manifestReferences, UnreadableManifestError, type ManifestRefs } from './references.js';
import { scanBlobs, scanRepositories, type RepositoryScan } from './scan.js';

export interface GcOptions {
  /** Report what would be deleted; delete nothing. */
  dryRun: boolean;
  /** Also delete manifests no tag points to (never a child of a live index, nor a referrer of a live subject). */
  deleteUntagged: boolean;
  /** Blobs, links and revisions modified less than this long before the run are never deleted. */
  graceMs: number;
  /** Receives Distribution-style output lines. */
  emit?: (line: string) => void;
  /** Only the summary line (and problems). */
  quiet?: boolean;
  /** The registry served by this process, when the collector runs inside `serve`: its guard and caches. */
  registry?: Registry;
  /** Stops the sweep before its next deletion (server shutdown). */
  signal?: AbortSignal;
}

export interface GcResult {
  /** Digests marked as referenced by the first pass (Distribution's "blobs marked"). */
  marked: number;
  /** Blobs unreferenced and older than the grace period (deleted unless a dry run). */
  blobsEligible: string[];
  /** Untagged manifests to remove, as "repository@digest" (with deleteUntagged). */
  manifestsEligible: string[];
  blobsDeleted: string[];
  bytesDeleted: number;
  manifestsDeleted: string[];
  /** Unreferenced blobs kept because they, or a link to them, are younger than the grace period. */
  keptYoung: number;
  /** Eligible blobs and manifests kept because, at the last check, they were in use or had changed. */
  keptInUse: number;
}

export class GarbageCollectionError extends Error {}

/**
 * Mark and sweep (docs/gc.md). Mark: every manifest revision of every repository (with
 * deleteUntagged: the tagged ones, their children, and referrers of live manifests) and,
 * recursively, what it references. Before deleting anything the repositories are scanned again,
 * so manifests, tags and links that appeared during the mark are marked too. Sweep: untagged
 * manifests (with deleteUntagged), then every blob neither marked nor younger than the grace
 * period, each re-checked right before it is deleted.
 */
export async function collectGarbage(driver: StorageDriver, options: GcOptions): Promise<GcResult> {
  const run = new Run(driver, options);
  return run.execute();
}

class Run {
  private readonly startedAt = Date.now();
  private readonly cutoff: number;
  private readonly guard: BlobGuard;
  private readonly marked = new Set<string>();
  private readonly refs = new Map<string, ManifestRefs | null>();
  /** Blobs with a `_layers` link younger than the grace period in some repository. */
  private readonly youngLinks = new Set<string>();
  /** "repo@digest" of revisions found live in any scan. */
  private readonly live = new Set<string>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly options: GcOptions,
  ) {
    this.cutoff = this.startedAt - options.graceMs;
    this.guard = options.registry?.blobs.guard ?? new BlobGuard();
  }

  private say(line: string): void {
    if (!this.options.quiet) this.options.emit?.(line);
  }

  async execute(): Promise<GcResult> {
    const first = await scanRepositories(this.driver);
    // Under `berth serve` with workers, what the other workers relied on counts too.
    await this.guard.refresh(this.cutoff);
    await this.mark(first, true);
    const markedByFirstPass = this.marked.size;
    // Whatever was pushed, tagged, mounted or linked while we marked is kept too (and a dry run
    // reports what a run would delete).
    const again = await scanRepositories(this.driver);
    await this.guard.refresh(this.cutoff);
    await this.mark(again, false);

    // Without deleteUntagged every revision is live.
    const manifests: Array<{ repo: string; digest: Digest }> = [];
    for (const repo of sortedRepos(first)) {
      for (const { digest } of sortedRevisions(repo)) {
        if (!this.live.has(`${repo.name}@${digest.value}`)) manifests.push({ repo: repo.name, digest });
      }
    }
    const result: GcResult = {
      marked: markedByFirstPass,
      blobsEligible: [],
      manifestsEligible: manifests.map((m) => `${m.repo}@${m.digest.value}`),
      blobsDeleted: [],
      bytesDeleted: 0,
      manifestsDeleted: [],
      keptYoung: 0,
      keptInUse: 0,
    };
    for (const m of manifests) {
      if (this.options.signal?.aborted) break;
      this.say(`manifest eligible for deletion: ${m.repo}@${m.digest.value}`);
      if (this.options.dryRun) continue;
      if (await this.deleteManifest(m.repo, m.digest)) result.manifestsDeleted.push(`${m.repo}@${m.digest.value}`);
      else {
        // Kept after all (tagged or used meanwhile): what it references stays too.
        result.keptInUse++;
        this.marked.add(m.digest.value);
        await this.markReferences(m.repo, m.digest, false, new Set());
      }
    }

    const blobs = (await scanBlobs(this.driver)).filter((b) => !this.marked.has(b.digest.value));
    const eligible = blobs.filter((b) => b.modTime < this.cutoff && !this.youngLinks.has(b.digest.value));
    result.keptYoung = blobs.length - eligible.length;
    result.blobsEligible = eligible.map((b) => b.digest.value);
    this.options.emit?.(`\n${markedByFirstPass} blobs marked, ${eligible.length} blobs and ${manifests.length} manifests eligible for deletion`);
    for (const blob of eligible) {
      if (this.options.signal?.aborted) break;
      this.say(`blob eligible for deletion: ${blob.digest.value}`);
      if (this.options.dryRun) continue;
      const size = await this.deleteBlob(blob.digest);
      if (size === undefined) result.keptInUse++;
      else {
        result.blobsDeleted.push(blob.digest.value);
        result.bytesDeleted += size;
      }
    }
    if (result.keptYoung > 0) this.say(`${result.keptYoung} unreferenced blobs kept: they or a link to them are younger than the grace period`);
    if (!this.options.dryRun) {
      this.say(`deleted ${result.blobsDeleted.length} blobs (${result.bytesDeleted} bytes) and ${result.manifestsDeleted.length} manifests; ${result.keptInUse} kept because they were in use`);
    }
    return result;
  }

  /** Marks what the live revisions of every repository reference; `verbose` prints as Distribution does. */
  private async mark(scan: Map<string, RepositoryScan>, verbose: boolean): Promise<void> {
    for (const repo of sortedRepos(scan)) {
      if (verbose) this.say(repo.name);
      const live = await this.liveRevisions(repo);
      for (const { digest } of sortedRevisions(repo)) {
        if (!live.has(digest.value)) continue;
        this.live.add(`${repo.name}@${digest.value}`);
        if (verbose) this.say(`${repo.name}: marking manifest ${digest.value}`);
        this.marked.add(digest.value);
        await this.markReferences(repo.name, digest, verbose, new Set());
      }
      // A link written recently is an upload or mount in progress: its blob is about to be used.
      for (const [digest, modTime] of repo.layers) if (modTime >= this.cutoff) this.youngLinks.add(digest);
    }
  }

  private async markReferences(repo: string, digest: Digest, verbose: boolean, path: Set<string>): Promise<void> {
    const refs = await this.references(repo, digest);
    if (!refs || path.has(digest.value)) return;
    path.add(digest.value);
    for (const d of [...refs.blobs, ...refs.children]) {
      if (this.marked.has(d.value)) continue;
      this.marked.add(d.value);
      if (verbose) this.say(`${repo}: marking blob ${d.value}`);
    }
    // Children are followed even when they are not revisions here: what an index names stays.
    for (const child of refs.children) await this.markReferences(repo, child, verbose, path);
  }

  /**
   * Revisions that stay: all of them; with deleteUntagged, the tagged ones, those younger than
   * the grace period, children of those (recursively), and referrers whose subject stays.
   */
  private async liveRevisions(repo: RepositoryScan): Promise<Set<string>> {
    const live = new Set<string>();
    if (!this.options.deleteUntagged) {
      for (const d of repo.revisions.keys()) live.add(d);
      return live;
    }
    const keep = async (d: string): Promise<void> => {
      const rev = repo.revisions.get(d);
      if (!rev || live.has(d)) return;
      live.add(d);
      const refs = await this.references(repo.name, rev.digest);
      for (const child of refs?.children ?? []) await keep(child.value);
    };
    for (const d of repo.tags.values()) await keep(d);
    // Recently pushed, or (in `serve`) recently relied on by a request: a push may be under way.
    for (const [d, rev] of repo.revisions) if (rev.modTime >= this.cutoff || this.guard.usedSince(d, this.cutoff)) await keep(d);
    for (let changed = true; changed; ) {
      changed = false;
      for (const [d, rev] of repo.revisions) {
        if (live.has(d)) continue;
        const subject = (await this.references(repo.name, rev.digest))?.subject;
        if (subject && live.has(subject.value)) {
          await keep(d);
          changed = true;
        }
      }
    }
    return live;
  }

  /** A manifest's references (cached: content is immutable); undefined when its content is gone. */
  private async references(repo: string, digest: Digest): Promise<ManifestRefs | undefined> {
    const cached = this.refs.get(digest.value);
    if (cached !== undefined) return cached ?? undefined;
    let content: Buffer;
    try {
      content = await this.driver.getContent(blobDataPath(digest));
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
      this.refs.set(digest.value, null);
      return undefined;
    }
    try {
      const refs = manifestReferences(content);
      this.refs.set(digest.value, refs);
      return refs;
    } catch (err) {
      if (err instanceof UnreadableManifestError) {
        // Sweeping without knowing what this manifest references could delete live layers.
        throw new GarbageCollectionError(`${repo}: cannot read manifest ${digest.value} (${err.message}); nothing was deleted`);
      }
      throw err;
    }
  }

  /** Removes an untagged revision after re-checking it; false when it was kept. */
  private deleteManifest(repo: string, digest: Digest): Promise<boolean> {
    return this.guard.deleting(digest.value, this.cutoff, async () => {
      const link = await this.modTime(revisionLinkPath(repo, digest));
      if (link === undefined || link >= this.cutoff) return false;
      const tags = await listNames(this.driver, tagsDir(repo));
      for (const tag of tags) {
        if ((await readLink(this.driver, tagCurrentLinkPath(repo, tag)))?.value === digest.value) return false;
      }
      // The tag history entries naming it go with it, as Distribution removes them.
      for (const tag of tags) await deleteIfExists(this.driver, `${tagDir(repo, tag)}/index/${digest.algorithm}/${digest.hex}`);
      await deleteIfExists(this.driver, revisionDir(repo, digest));
      return true;
    });
  }

  /** Removes a blob after re-checking it; its size, or undefined when it was kept. */
  private async deleteBlob(digest: Digest): Promise<number | undefined> {
    let size: number | undefined;
    await this.guard.deleting(digest.value, this.cutoff, async () => {
      let info;
      try {
        info = await this.driver.stat(blobDataPath(digest));
      } catch (err) {
        if (isPathNotFound(err)) return false;
        throw err;
      }
      if (info.modTime.getTime() >= this.cutoff) return false;
      if (this.options.registry) await this.options.registry.blobs.delete(digest);
      else await deleteIfExists(this.driver, blobDir(digest), { pendingWrites: false }); // as BlobStore.delete
      size = info.size;
      return true;
    });
    return size;
  }

  private async modTime(path: string): Promise<number | undefined> {
    try {
      return (await this.driver.stat(path)).modTime.getTime();
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
      throw err;
    }
  }
}

/** Repositories in name order (a walk visits `a/b` before `a-b`); names are unique. */
function sortedRepos(scan: Map<string, RepositoryScan>): RepositoryScan[] {
  return [...scan.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** A repository's revisions in digest order: the scan's, since a walk is in lexical order of path (`<alg>/<hex>`). */
function sortedRevisions(repo: RepositoryScan): Array<{ digest: Digest; modTime: number }> {
  return [...repo.revisions.values()];
}
