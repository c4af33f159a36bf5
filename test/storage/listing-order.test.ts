import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareBytes, keyOrderBound } from '../../src/storage/listing/sorted.js';

const seenAllUpTo = (name: string) => keyOrderBound(name, '/_manifests0');

/**
 * Catalog and tag-list pages are answered early from listings in key order (EarlyPages,
 * keyOrderBound in src/storage/listing/): once the listing has passed the bound of X, every name
 * sorting at or before X must have been seen. Checked here over name sets built to break it:
 * names that are prefixes of others followed by '-', '.', '_' or '/', and nested repositories.
 */
function keysOf(names: string[]): string[] {
  return names.flatMap((n) => [`${n}/_layers/sha256/aa/link`, `${n}/_manifests/revisions/sha256/bb/link`, `${n}/_uploads/u/startedat`]).sort(compareBytes);
}

function check(names: string[]): void {
  const keys = keysOf(names);
  const sorted = [...names].sort(compareBytes);
  const seen = new Set<string>();
  for (const key of keys) {
    const own = key.indexOf('/_');
    if (key.startsWith('/_manifests/', own)) seen.add(key.slice(0, own));
    for (const x of sorted) {
      if (!seen.has(x) || key < seenAllUpTo(x)) continue;
      for (const earlier of sorted) {
        if (compareBytes(earlier, x) > 0) break;
        assert.ok(seen.has(earlier), `listing at ${key}: ${earlier} (before ${x}) not yet seen`);
      }
    }
  }
}

const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)]!;

/** A small deterministic generator, so a failure repeats. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('listings in key order', () => {
  it('the bound holds for names that are prefixes of others', () => {
    check(['a', 'a-b', 'a.b', 'a_b', 'a__b', 'a/b', 'a/0', 'a0', 'ab', 'a-b/c', 'a-b-c', 'a/b-c', 'a/b/c', 'b']);
  });

  it('the bound holds for random families of related names', () => {
    const random = generator(7);
    for (let round = 0; round < 200; round++) {
      const names = new Set<string>();
      const roots = ['a', 'ab', 'a1', 'team', 'x9'];
      for (let i = 0; i < 12; i++) {
        let name = pick(roots, random);
        for (let parts = Math.floor(random() * 3); parts > 0; parts--) name += pick(['-', '.', '_', '__', '/'], random) + pick(['0', 'a', 'b', 'z1'], random);
        names.add(name);
      }
      check([...names]);
    }
  });

  it('the bound holds for tags listed as folders ("<tag>/")', () => {
    const random = generator(11);
    for (let round = 0; round < 300; round++) {
      const tags = new Set<string>();
      for (let i = 0; i < 10; i++) {
        let tag = pick(['v1', 'v', 'latest', 'A', '_x'], random);
        for (let parts = Math.floor(random() * 3); parts > 0; parts--) tag += pick(['-', '.', '_', '0', 'a', 'Z'], random) + pick(['', '1', 'b'], random);
        tags.add(tag);
      }
      const entries = [...tags].map((t) => `${t}/`).sort(compareBytes);
      const sorted = [...tags].sort(compareBytes);
      const seen = new Set<string>();
      for (const entry of entries) {
        seen.add(entry.slice(0, -1));
        for (const x of sorted) {
          if (!seen.has(x) || entry < keyOrderBound(x, '/')) continue;
          for (const earlier of sorted) {
            if (compareBytes(earlier, x) > 0) break;
            assert.ok(seen.has(earlier), `listing at ${entry}: ${earlier} (before ${x}) not yet seen`);
          }
        }
      }
    }
  });

  it('is not trivially satisfied: without the prefixes\' bounds an early answer would miss a name', () => {
    // Listing position just past "a-b"'s manifests: "a" (sorting before "a-b") is not seen yet.
    const keys = keysOf(['a', 'a-b']);
    const position = keys.find((k) => k.startsWith('a-b/_manifests/'))!;
    assert.ok(position < seenAllUpTo('a-b'), 'the bound asks to read on');
    assert.ok(keys.indexOf(position) < keys.findIndex((k) => k.startsWith('a/_manifests/')));
  });
});
