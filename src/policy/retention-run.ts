import type { Clock } from '../clock.js';
import type { RetentionConfig } from '../config/types.js';
import { scanRepositories } from '../gc/scan.js';
import { parseDigest, type Digest } from '../oci/digest.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import { deleteIfExists, listNames, readLink } from '../storage/links.js';
import { revisionDir, revisionLinkPath, tagCurrentLinkPath, tagDir, tagsDir } from '../storage/paths.js';
import type { Registry } from '../storage/registry.js';
import type { ManifestRecord } from '../storage/rules.js';
import { isReferrersTag } from './immutable.js';
import { decideRetention, policyFor, type ManifestFacts, type Removal, type TagFacts } from './retention.js';

/** Where retention reads pull and push records (the server's Recorder, or a RecordStore for the command). */
export interface RecordsReader {
  read(name: string): Promise<ReadonlyMap<string, ManifestRecord>>;
}

export interface RetentionOptions {
  dryRun: boolean;
  clock: Clock;
  records: RecordsReader;
  /** Told of each decision once it is carried out (or would be, in a dry run); awaited before the next. */
  emit?: (removal: RetentionRemoval) => void | Promise<void>;
  signal?: AbortSignal;
}

/** One decision: what, where, which rule, and whether it was carried out. */
export interface RetentionRemoval extends Removal {
  repository: string;
  /** Removed (false in a dry run, or when it was kept after all: re-pushed, tagged again, in use). */
  removed: boolean;
  /** Why a decided removal was not carried out. */
  kept?: string;
}

export interface RetentionReport {
  dryRun: boolean;
  /** When the decisions were made (ms since the epoch, the run's clock). */
  at: number;
  repositories: number;
  removals: RetentionRemoval[];
  /** Repositories left alone because a manifest could not be read (what it references is unknown). */
  skipped: Array<{ repository: string; reason: string }>;
}

/**
 * Runs berth.retention once over every repository a policy matches (docs/policy.md): reads the
 * facts (tags with their link times, revisions with theirs, pull and push records, immutable
 * tags), lets retention.ts decide, then carries the decisions out through the stores' own
 * methods, re-checked at the moment of each removal as garbage collection does:
 * a tag goes only while it still names the digest and its link was not written since it was read
 * (`TagStore.untagIf`: a tag re-pushed meanwhile, by any instance, stays); a manifest goes only
 * while no tag names it (so no immutable tag does) and its revision link was not written since,
 * inside the registry's BlobGuard (a pull or push relying on it meanwhile keeps it), as garbage
 * collection deletes one. Blobs are left to the next garbage collection.
 */
export async function runRetention(config: RetentionConfig, registry: Registry, options: RetentionOptions): Promise<RetentionReport> {
  const now = options.clock.now();
  const started = Date.now();
  const report: RetentionReport = { dryRun: options.dryRun, at: now, repositories: 0, removals: [], skipped: [] };
  if (config.policies.length === 0) return report;
  const scan = await scanRepositories(registry.driver);
  for (const name of [...scan.keys()].sort()) {
    if (options.signal?.aborted) break;
    const index = policyFor(config.policies, name);
    if (index === undefined) continue;
    report.repositories++;
    const repo = registry.localRepository(name);
    const records = await options.records.read(name);
    const pushedAt = (digest: string, linkTime: number) => Math.max(linkTime, records.get(digest)?.pushed ?? 0);

    const tagTimes = new Map<string, number>();
    const tags: TagFacts[] = [];
    for (const [tag, digest] of scan.get(name)!.tags) {
      const linkTime = await modTime(registry, tagCurrentLinkPath(name, tag));
      if (linkTime === undefined) continue;
      tagTimes.set(tag, linkTime);
      const derived = isReferrersTag(tag);
      tags.push({ tag, digest, pushed: pushedAt(digest, linkTime), pulled: records.get(digest)?.pulled ?? null, immutable: derived || registry.rules.immutable(name, tag) !== undefined, derived });
    }
    const revisionTimes = new Map<string, number>();
    const manifests: ManifestFacts[] = [];
    let unreadable: string | undefined;
    for (const [value, { digest, modTime: linkTime }] of scan.get(name)!.revisions) {
      const info = await repo.manifests.info(digest).catch(() => undefined);
      if (!info) {
        unreadable = `cannot read manifest ${value}`;
        break;
      }
      revisionTimes.set(value, linkTime);
      manifests.push({
        digest: value,
        pushed: pushedAt(value, linkTime),
        children: info.manifests.map((d) => d.digest.value),
        ...(info.subject ? { subject: info.subject.digest.value } : {}),
      });
    }
    if (unreadable) {
      report.skipped.push({ repository: name, reason: unreadable });
      continue;
    }

    /** Subjects some of whose referrers were removed: their fallback tags are rebuilt once the repository is done. */
    const subjects = new Set<string>();
    const subjectOf = new Map(manifests.flatMap((m) => (m.subject ? [[m.digest, m.subject] as const] : [])));
    for (const decision of decideRetention({ name, tags, manifests }, config.policies, index, config.delayMs, now)) {
      if (options.signal?.aborted) break;
      const removal: RetentionRemoval = { ...decision, repository: name, removed: false };
      if (!options.dryRun) {
        const digest = parseDigest(decision.digest);
        if (decision.kind === 'tag') {
          removal.removed = await repo.tags.untagIf(decision.tag!, digest, tagTimes.get(decision.tag!)!);
          if (!removal.removed) removal.kept = 'pushed again, moved or immutable since it was read';
        } else {
          removal.removed = await registry.blobs.guard.deleting(decision.digest, started, () => removeManifest(registry, name, digest, revisionTimes.get(decision.digest)!));
          if (!removal.removed) removal.kept = 'tagged, pushed again or in use since it was read';
          const subject = subjectOf.get(decision.digest);
          if (removal.removed && subject) subjects.add(subject);
        }
      }
      report.removals.push(removal);
      await options.emit?.(removal);
    }
    // With berth.referrers.fallbacktags, a subject's tag lists its referrers: rebuilt from those left
    // (and gone with the last), as a referrer deleted through the API rebuilds it.
    const keeper = registry.policy.referrersTags;
    if (keeper) for (const subject of subjects) await keeper.update(repo.manifests, repo.tags, parseDigest(subject));
  }
  return report;
}

/**
 * Deletes an untagged revision after re-checking that no tag names it and it was not pushed again,
 * as garbage collection deletes one (the tag history entries naming it go too). It runs inside the
 * BlobGuard's claim on the digest, so it writes through the driver (reported as every write is),
 * not through ManifestStore.delete, whose presence check waits for that very claim.
 */
async function removeManifest(registry: Registry, name: string, digest: Digest, linkTime: number): Promise<boolean> {
  const { driver } = registry;
  const now = await modTime(registry, revisionLinkPath(name, digest));
  if (now === undefined || now > linkTime) return false;
  const tags = await listNames(driver, tagsDir(name));
  for (const tag of tags) {
    if ((await readLink(driver, tagCurrentLinkPath(name, tag)))?.value === digest.value) return false;
  }
  for (const tag of tags) await deleteIfExists(driver, `${tagDir(name, tag)}/index/${digest.algorithm}/${digest.hex}`);
  return deleteIfExists(driver, revisionDir(name, digest));
}

async function modTime(registry: Registry, path: string): Promise<number | undefined> {
  try {
    return (await registry.driver.stat(path)).modTime.getTime();
  } catch (err) {
    if (isPathNotFound(err)) return undefined;
    throw err;
  }
}

/** One line for people: `team/app: tag v1 (sha256:…) removed: berth.retention.policies[0] keeptags: …`. */
export function describeRemoval(r: RetentionRemoval, dryRun: boolean): string {
  const what = r.kind === 'tag' ? `tag ${r.tag} (${r.digest})` : `manifest ${r.digest}`;
  const outcome = dryRun ? 'would be removed' : r.removed ? 'removed' : `kept (${r.kept})`;
  return `${r.repository}: ${what} ${outcome}: berth.retention.policies[${r.policy}] ${r.rule}: ${r.reason}`;
}
