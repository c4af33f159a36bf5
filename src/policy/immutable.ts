import type { ImmutableTagRule } from '../config/types.js';
import { matchesAnyGlob, matchesAnyPattern } from './match.js';

/**
 * Immutable tags (berth.immutabletags), decided from the rules, the repository and the tag alone.
 * The referrers tag schema's tags (`sha256-<hex>`, kept by Berth itself under
 * berth.referrers.fallbacktags and by clients on registries without the referrers API) are
 * indexes rebuilt whenever a referrer comes or goes: no rule freezes them.
 */

const REFERRERS_TAG = /^[a-z0-9]+-[a-f0-9]{64}$/;

/** Whether `tag` has the referrers tag schema's form (`<alg>-<hex>`): an index Berth or a client keeps, not a release. */
export function isReferrersTag(tag: string): boolean {
  return REFERRERS_TAG.test(tag);
}

/** The index of the first rule that makes `tag` of repository `name` immutable; undefined when none does. */
export function immutableRule(rules: readonly ImmutableTagRule[], name: string, tag: string): number | undefined {
  if (isReferrersTag(tag)) return undefined;
  const i = rules.findIndex((r) => matchesAnyGlob(r.repositories, name) && matchesAnyPattern(r.tags, tag));
  return i < 0 ? undefined : i;
}

/** Whether any rule covers repository `name` (so some of its tags may be immutable). */
export function coversRepository(rules: readonly ImmutableTagRule[], name: string): boolean {
  return rules.some((r) => matchesAnyGlob(r.repositories, name));
}

/** A rule as messages name it: `berth.immutabletags[0] (repositories team/**, tags ^v)`. */
export function describeImmutableRule(rules: readonly ImmutableTagRule[], index: number): string {
  const r = rules[index]!;
  return `berth.immutabletags[${index}] (repositories ${spaced(r.repositories)}, tags ${spaced(r.tags)})`;
}

/** A list in a message: its items apart by spaces (no quotes, which clients' logs escape). */
export function spaced(list: readonly string[]): string {
  return list.join(' ');
}
