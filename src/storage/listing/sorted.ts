/**
 * Sorted lists of names (the catalog, a repository's tags) in byte order, the spec's lexical
 * order: search, insert, remove, where a page ends, and how far a listing in key order has
 * certainly seen them.
 */

/** A page of a sorted listing: the first `count` names after `after` ('' for the start). */
export interface PageNeed {
  after: string;
  count: number;
}

/** The last name of the page `need` in a sorted list; undefined when the list does not reach it. */
export function pageEnd(sorted: readonly string[], need: PageNeed): string | undefined {
  let start = sortedIndex(sorted, need.after);
  if (sorted[start] === need.after) start++;
  return sorted[start + need.count - 1];
}

/**
 * The position past which a listing in key order has shown every name sorting at or before
 * `name`, where each name's keys all sort at or before the name followed by `suffix`. Key order
 * is not name order: `a-b/…` sorts before `a/…` while the name `a` sorts before `a-b`. A name
 * sorting before `name` either differs from it at some position by a smaller character, so all
 * its keys sort before `name`'s own, or is a prefix of it, bounded by prefix + suffix; the largest
 * of those bounds is the one.
 */
export function keyOrderBound(name: string, suffix: string): string {
  let bound = name + suffix;
  for (let end = 1; end < name.length; end++) {
    const candidate = name.slice(0, end) + suffix;
    if (candidate > bound) bound = candidate;
  }
  return bound;
}

/** Byte order of names (the spec's lexical order; S3's key order for ASCII). */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Where `name` is or would go in a sorted list of names (byte order). */
export function sortedIndex(sorted: readonly string[], name: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts into / removes from a sorted list of names (byte order), returning a new list. */
export function withName(sorted: readonly string[], name: string): string[] {
  const lo = sortedIndex(sorted, name);
  if (sorted[lo] === name) return sorted as string[];
  return [...sorted.slice(0, lo), name, ...sorted.slice(lo)];
}

export function withoutName(sorted: readonly string[], name: string): string[] {
  const i = sorted.indexOf(name);
  return i === -1 ? (sorted as string[]) : [...sorted.slice(0, i), ...sorted.slice(i + 1)];
}
