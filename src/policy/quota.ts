import { formatSize } from '../config/size.js';
import type { QuotaRule } from '../config/types.js';
import { spaced } from './immutable.js';
import { matchesAnyGlob } from './match.js';

/**
 * Quotas (berth.quotas), decided from the rules, a repository name and byte counts alone. Every
 * rule whose globs match a repository applies to it: a push must fit each of them. The
 * repositories a rule matches share its limit (a blob counted once however many of them link
 * it), or with `each` every one of them has the limit to itself. A rule without a limit only
 * measures.
 */

/** The indexes of the rules that apply to repository `name`. */
export function quotaRulesFor(rules: readonly QuotaRule[], name: string): number[] {
  const out: number[] = [];
  rules.forEach((r, i) => {
    if (matchesAnyGlob(r.repositories, name)) out.push(i);
  });
  return out;
}

/** What one rule says about one push: the bytes already counted against it and those the push adds. */
export interface QuotaCheck {
  rule: number;
  /** The repository whose usage is counted (with `each`), else undefined (the rule's shared usage). */
  repository?: string;
  used: number;
  adding: number;
  /** Undefined for a rule that only measures. */
  limit: number | undefined;
}

/** A push that adds nothing always fits; one that adds bytes fits while the total stays at or below the limit. */
export function exceeds(check: QuotaCheck): check is QuotaCheck & { limit: number } {
  return check.limit !== undefined && check.adding > 0 && check.used + check.adding > check.limit;
}

/** The refusal's message: which rule, its usage and its limit, and what the push would add. */
export function quotaMessage(rules: readonly QuotaRule[], check: QuotaCheck & { limit: number }): string {
  const whose = check.repository === undefined ? 'shared by its repositories' : `repository ${check.repository}`;
  return `quota exceeded: ${describeQuotaRule(rules, check.rule)} allows ${formatSize(check.limit)} (${check.limit} bytes), ${whose} uses ${formatSize(check.used)} (${check.used} bytes), this push adds ${formatSize(check.adding)} (${check.adding} bytes)`;
}

export function describeQuotaRule(rules: readonly QuotaRule[], index: number): string {
  const r = rules[index]!;
  return `berth.quotas[${index}] (repositories ${spaced(r.repositories)}${r.each ? ', each' : ''})`;
}
