import { durationToMs } from '../config/duration.js';
import { ConfigError } from '../config/errors.js';
import { parseSize } from '../config/size.js';
import type { ImmutableTagRule, KeepTagsRule, QuotaRule, RetentionConfig, RetentionPolicy } from '../config/types.js';
import { glob, pattern } from './match.js';

/**
 * berth.retention, berth.quotas and berth.immutabletags (docs/policy.md), checked: every key has
 * its type, every glob and regular expression compiles, and a problem is one line naming the key
 * (`berth.retention.policies[0].keeptags[1].patterns[0]: …`). Keys are read case-insensitively
 * (REGISTRY_BERTH_* overrides create lower-case keys); a key not known here is a warning.
 */

type Raw = Record<string, unknown>;

export interface PolicySettings {
  retention?: RetentionConfig;
  quotas?: QuotaRule[];
  immutableTags?: ImmutableTagRule[];
}

export const DEFAULT_RETENTION_DELAY_MS = 24 * 3600_000;

export function buildPolicy(berth: Raw | undefined, warn: (message: string) => void): PolicySettings {
  const out: PolicySettings = {};
  const given = berth ? lowerKeys(berth) : {};
  if (given.retention !== undefined && given.retention !== null) out.retention = retention(given.retention, 'berth.retention', warn);
  if (given.quotas !== undefined && given.quotas !== null) out.quotas = list(given.quotas, 'berth.quotas').map((v, i) => quota(v, `berth.quotas[${i}]`, warn));
  if (given.immutabletags !== undefined && given.immutabletags !== null) {
    out.immutableTags = list(given.immutabletags, 'berth.immutabletags').map((v, i) => immutable(v, `berth.immutabletags[${i}]`, warn));
  }
  return out;
}

function retention(v: unknown, at: string, warn: (m: string) => void): RetentionConfig {
  const m = map(v, at, ['interval', 'dryrun', 'delay', 'policies'], warn);
  return {
    intervalMs: duration(m.interval, `${at}.interval`) ?? 0,
    dryrun: flag(m.dryrun, `${at}.dryrun`) ?? false,
    delayMs: duration(m.delay, `${at}.delay`) ?? DEFAULT_RETENTION_DELAY_MS,
    policies: m.policies === undefined || m.policies === null ? [] : list(m.policies, `${at}.policies`).map((p, i) => policy(p, `${at}.policies[${i}]`, warn)),
  };
}

function policy(v: unknown, at: string, warn: (m: string) => void): RetentionPolicy {
  const m = map(v, at, ['repositories', 'deleteuntagged', 'deletereferrers', 'keeptags'], warn);
  const out: RetentionPolicy = {
    deleteUntagged: flag(m.deleteuntagged, `${at}.deleteuntagged`) ?? false,
    deleteReferrers: flag(m.deletereferrers, `${at}.deletereferrers`) ?? false,
  };
  if (m.repositories !== undefined && m.repositories !== null) out.repositories = globs(m.repositories, `${at}.repositories`);
  if (m.keeptags !== undefined && m.keeptags !== null) out.keepTags = list(m.keeptags, `${at}.keeptags`).map((r, i) => keepTags(r, `${at}.keeptags[${i}]`, warn));
  return out;
}

function keepTags(v: unknown, at: string, warn: (m: string) => void): KeepTagsRule {
  const m = map(v, at, ['patterns', 'mostrecentlypushedcount', 'mostrecentlypulledcount', 'pushedwithin', 'pulledwithin'], warn);
  const out: KeepTagsRule = {};
  if (m.patterns !== undefined && m.patterns !== null) out.patterns = regexes(m.patterns, `${at}.patterns`);
  const pushedCount = count(m.mostrecentlypushedcount, `${at}.mostrecentlypushedcount`);
  const pulledCount = count(m.mostrecentlypulledcount, `${at}.mostrecentlypulledcount`);
  const pushedWithin = duration(m.pushedwithin, `${at}.pushedwithin`);
  const pulledWithin = duration(m.pulledwithin, `${at}.pulledwithin`);
  if (pushedCount !== undefined) out.mostRecentlyPushedCount = pushedCount;
  if (pulledCount !== undefined) out.mostRecentlyPulledCount = pulledCount;
  if (pushedWithin !== undefined) out.pushedWithinMs = pushedWithin;
  if (pulledWithin !== undefined) out.pulledWithinMs = pulledWithin;
  return out;
}

function quota(v: unknown, at: string, warn: (m: string) => void): QuotaRule {
  const m = map(v, at, ['repositories', 'maxbytes', 'each'], warn);
  if (m.repositories === undefined || m.repositories === null) throw new ConfigError(`${at}.repositories: required (a list of repository globs)`);
  const out: QuotaRule = { repositories: globs(m.repositories, `${at}.repositories`), each: flag(m.each, `${at}.each`) ?? false };
  // Without maxbytes the rule measures only (docs/policy.md, "Measuring without a limit").
  if (m.maxbytes === undefined || m.maxbytes === null) return out;
  const maxBytes = typeof m.maxbytes === 'string' || typeof m.maxbytes === 'number' ? parseSize(m.maxbytes) : undefined;
  if (maxBytes === undefined) throw new ConfigError(`${at}.maxbytes: expected a size such as 10GiB, 500MB or a number of bytes, got ${JSON.stringify(m.maxbytes)}`);
  return { ...out, maxBytes };
}

function immutable(v: unknown, at: string, warn: (m: string) => void): ImmutableTagRule {
  const m = map(v, at, ['repositories', 'tags'], warn);
  if (m.repositories === undefined || m.repositories === null) throw new ConfigError(`${at}.repositories: required (a list of repository globs)`);
  if (m.tags === undefined || m.tags === null) throw new ConfigError(`${at}.tags: required (a list of regular expressions)`);
  return { repositories: globs(m.repositories, `${at}.repositories`), tags: regexes(m.tags, `${at}.tags`) };
}

function lowerKeys(v: Raw): Raw {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), x]));
}

function map(v: unknown, at: string, known: readonly string[], warn: (m: string) => void): Raw {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${at}: expected a map, got ${JSON.stringify(v)}`);
  const m = lowerKeys(v as Raw);
  for (const key of Object.keys(m)) if (!known.includes(key)) warn(`${at}.${key}: unknown key, ignored`);
  return m;
}

function list(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new ConfigError(`${at}: expected a list, got ${JSON.stringify(v)}`);
  return v;
}

function strings(v: unknown, at: string): string[] {
  const items = Array.isArray(v) ? v : [v];
  return items.map((item, i) => {
    if (typeof item === 'string' && item !== '') return item;
    if (typeof item === 'number') return String(item);
    throw new ConfigError(`${Array.isArray(v) ? `${at}[${i}]` : at}: expected a non-empty string, got ${JSON.stringify(item)}`);
  });
}

function globs(v: unknown, at: string): string[] {
  const out = strings(v, at);
  out.forEach((g, i) => {
    try {
      glob(g);
    } catch (err) {
      throw new ConfigError(`${at}[${i}]: invalid glob ${JSON.stringify(g)}: ${(err as Error).message}`);
    }
  });
  return out;
}

function regexes(v: unknown, at: string): string[] {
  const out = strings(v, at);
  out.forEach((p, i) => {
    try {
      pattern(p);
    } catch (err) {
      throw new ConfigError(`${at}[${i}]: invalid regular expression ${JSON.stringify(p)}: ${(err as Error).message}`);
    }
  });
  return out;
}

function flag(v: unknown, at: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new ConfigError(`${at}: expected true or false, got ${JSON.stringify(v)}`);
}

function duration(v: unknown, at: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const ms = typeof v === 'string' || typeof v === 'number' ? durationToMs(v) : undefined;
  if (ms === undefined || ms < 0) throw new ConfigError(`${at}: expected a duration such as 24h or 30m, got ${JSON.stringify(v)}`);
  return ms;
}

function count(v: unknown, at: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new ConfigError(`${at}: expected a whole number, got ${JSON.stringify(v)}`);
  return n;
}
