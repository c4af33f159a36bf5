import type { KeepTagsRule, RetentionPolicy } from '../config/types.js';
import { matchesAnyGlob, matchesAnyPattern } from './match.js';

/**
 * Retention (berth.retention), decided from facts alone: a repository's tags and manifests with
 * their push and pull times, the policy, the delay and the time now. Nothing here reads storage;
 * retention-run.ts gathers the facts and carries the decisions out.
 *
 * Tags: without `keeptags` every tag stays. With it, a tag stays when any rule keeps it. A rule
 * looks at the tags its patterns match (every tag without patterns) and keeps them all when it
 * has no other key, else those among the `mostrecentlypushedcount` most recently pushed, the
 * `mostrecentlypulledcount` most recently pulled (never-pulled tags are not among them), pushed
 * within `pushedwithin` or pulled within `pulledwithin`. Immutable tags always stay (and so do the
 * referrers tag schema's `<alg>-<hex>` tags, which the caller marks immutable and derived).
 *
 * Manifests, once the tags to remove are gone: what the remaining tags point at stays, with every
 * manifest an index that stays names (recursively) and every referrer of a manifest that stays;
 * a derived tag keeps its own index but none of the referrers it lists (they are rebuilt from
 * what stays, by the caller);
 * so does any manifest pushed less than `delay` ago. Of the rest, a referrer (a manifest with a
 * subject) whose subject does not stay goes with `deletereferrers`; any other untagged manifest
 * goes with `deleteuntagged`. Whatever a policy does not remove stays.
 */

export interface TagFacts {
  tag: string;
  digest: string;
  /** When the tag was last pushed (ms since the epoch). */
  pushed: number;
  /** When its manifest was last pulled from this repository, or null when never. */
  pulled: number | null;
  immutable: boolean;
  /**
   * A referrers tag schema tag (`<alg>-<hex>`, berth.referrers.fallbacktags): an index of a
   * subject's referrers that Berth rebuilds from them, so the referrers it lists stay or go by their
   * subject, not by it.
   */
  derived?: boolean;
}

export interface ManifestFacts {
  digest: string;
  /** When the manifest was last pushed to this repository. */
  pushed: number;
  /** Manifests an index names. */
  children: readonly string[];
  /** The manifest this one refers to, for a referrer. */
  subject?: string;
}

export interface RepositoryFacts {
  name: string;
  tags: readonly TagFacts[];
  manifests: readonly ManifestFacts[];
}

export type RetentionRule = 'keeptags' | 'deleteuntagged' | 'deletereferrers';

export interface Removal {
  kind: 'tag' | 'manifest';
  /** The tag removed (kind "tag"). */
  tag?: string;
  digest: string;
  /** The policy's index in berth.retention.policies. */
  policy: number;
  rule: RetentionRule;
  /** Why, for people. */
  reason: string;
}

/** The first policy whose repositories match `name`; undefined when none does. */
export function policyFor(policies: readonly RetentionPolicy[], name: string): number | undefined {
  const i = policies.findIndex((p) => matchesAnyGlob(p.repositories, name));
  return i < 0 ? undefined : i;
}

/** What policy `index` removes from a repository at `now`: tags first, then manifests. */
export function decideRetention(facts: RepositoryFacts, policies: readonly RetentionPolicy[], index: number, delayMs: number, now: number): Removal[] {
  const policy = policies[index]!;
  const removedTags = policy.keepTags ? tagsToRemove(facts.tags, policy.keepTags, now) : [];
  const gone = new Set(removedTags.map((t) => t.tag));
  const remaining = facts.tags.filter((t) => !gone.has(t.tag));
  const removals: Removal[] = removedTags.map((t) => ({
    kind: 'tag',
    tag: t.tag,
    digest: t.digest,
    policy: index,
    rule: 'keeptags',
    reason: `no keeptags rule keeps it (pushed ${iso(t.pushed)}, ${t.pulled === null ? 'never pulled' : `last pulled ${iso(t.pulled)}`})`,
  }));
  for (const m of manifestsToRemove(facts.manifests, remaining, policy, now - delayMs)) {
    removals.push(
      m.subject === undefined
        ? { kind: 'manifest', digest: m.digest, policy: index, rule: 'deleteuntagged', reason: `untagged, pushed ${iso(m.pushed)}` }
        : { kind: 'manifest', digest: m.digest, policy: index, rule: 'deletereferrers', reason: `referrer of ${m.subject}, which is gone; pushed ${iso(m.pushed)}` },
    );
  }
  return removals;
}

/** Tags no rule keeps, in name order. */
export function tagsToRemove(tags: readonly TagFacts[], rules: readonly KeepTagsRule[], now: number): TagFacts[] {
  const kept = new Set<string>();
  for (const rule of rules) for (const t of keptByRule(tags, rule, now)) kept.add(t.tag);
  return tags.filter((t) => !t.immutable && !kept.has(t.tag)).sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}

function keptByRule(tags: readonly TagFacts[], rule: KeepTagsRule, now: number): TagFacts[] {
  const matching = tags.filter((t) => matchesAnyPattern(rule.patterns, t.tag));
  const { mostRecentlyPushedCount: pushedCount, mostRecentlyPulledCount: pulledCount, pushedWithinMs, pulledWithinMs } = rule;
  if (pushedCount === undefined && pulledCount === undefined && pushedWithinMs === undefined && pulledWithinMs === undefined) return matching;
  const kept = new Set<TagFacts>();
  if (pushedCount !== undefined) for (const t of newest(matching, (x) => x.pushed).slice(0, pushedCount)) kept.add(t);
  if (pulledCount !== undefined) for (const t of newest(matching.filter((x) => x.pulled !== null), (x) => x.pulled!).slice(0, pulledCount)) kept.add(t);
  for (const t of matching) {
    if (pushedWithinMs !== undefined && t.pushed >= now - pushedWithinMs) kept.add(t);
    if (pulledWithinMs !== undefined && t.pulled !== null && t.pulled >= now - pulledWithinMs) kept.add(t);
  }
  return [...kept];
}

/** Newest first; ties by tag name, so the same facts always give the same answer. */
function newest(tags: readonly TagFacts[], time: (t: TagFacts) => number): TagFacts[] {
  return [...tags].sort((a, b) => time(b) - time(a) || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}

function manifestsToRemove(manifests: readonly ManifestFacts[], tags: readonly TagFacts[], policy: RetentionPolicy, cutoff: number): ManifestFacts[] {
  const byDigest = new Map(manifests.map((m) => [m.digest, m]));
  const kept = new Set<string>();
  const keep = (digest: string): void => {
    const m = byDigest.get(digest);
    if (!m || kept.has(digest)) return;
    kept.add(digest);
    for (const child of m.children) keep(child);
  };
  for (const t of tags) {
    if (t.derived) kept.add(t.digest);
    else keep(t.digest);
  }
  for (const m of manifests) {
    if (m.pushed >= cutoff || (m.subject === undefined && !policy.deleteUntagged)) keep(m.digest);
  }
  // Referrers: one whose subject stays stays; one whose subject is gone stays unless deletereferrers.
  for (let changed = true; changed; ) {
    changed = false;
    for (const m of manifests) {
      if (kept.has(m.digest) || m.subject === undefined) continue;
      if (kept.has(m.subject) || !policy.deleteReferrers) {
        keep(m.digest);
        changed = true;
      }
    }
  }
  return manifests.filter((m) => !kept.has(m.digest)).sort((a, b) => (a.digest < b.digest ? -1 : 1));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
