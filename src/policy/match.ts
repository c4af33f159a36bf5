import { createRequire } from 'node:module';
import picomatch from 'picomatch';

/**
 * The two pattern languages of berth.retention, berth.quotas and berth.immutabletags, compiled
 * once per text. Repository globs: `*` matches within one path segment, `**` across segments
 * (`team/**` matches `team` and everything below it), with picomatch's other glob syntax
 * (`?`, `[abc]`, `{a,b}`). Tag patterns: regular expressions in RE2 syntax, found anywhere in the
 * tag (anchor them with ^ and $), run by re2js in time linear in the tag, so no pattern can stall
 * a request the way a backtracking RegExp could.
 */

export type Matcher = (text: string) => boolean;

const globs = new Map<string, Matcher>();
const patterns = new Map<string, Matcher>();

/** Whether a repository name matches any of `list` (every name when `list` is undefined). */
export function matchesAnyGlob(list: readonly string[] | undefined, name: string): boolean {
  return list === undefined || list.some((g) => glob(g)(name));
}

/** Whether a tag matches any of `list` (every tag when `list` is undefined). */
export function matchesAnyPattern(list: readonly string[] | undefined, tag: string): boolean {
  return list === undefined || list.some((p) => pattern(p)(tag));
}

export function glob(text: string): Matcher {
  let m = globs.get(text);
  if (!m) globs.set(text, (m = picomatch(text, { dot: true })));
  return m;
}

/** Throws an Error saying what is wrong with a pattern that does not compile. */
export function pattern(text: string): Matcher {
  let m = patterns.get(text);
  if (!m) {
    const compiled = re2().compile(text);
    m = (tag) => compiled.matcher(tag).find();
    patterns.set(text, m);
  }
  return m;
}

type Re2 = typeof import('re2js').RE2JS;
let loaded: Re2 | undefined;

/** re2js, loaded on first use: a registry without tag patterns never loads it. */
function re2(): Re2 {
  return (loaded ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS);
}
