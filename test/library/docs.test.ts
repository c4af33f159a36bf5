import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The documentation shows runnable files, never copies that drift: a fenced block right after
 * `<!-- example: PATH -->` must equal the file at PATH, byte for byte. The files themselves are
 * type-checked and run by test/library/packed.test.ts against the packed package.
 */
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['README.md', 'docs/library.md', 'docs/extending.md'];
const MARKER = /<!-- example: (\S+) -->\n```[a-z]*\n([\s\S]*?)```\n/g;

test('every example block in the docs is the file it names', async () => {
  let shown = 0;
  for (const doc of DOCS) {
    const text = await readFile(path.join(REPO, doc), 'utf8');
    for (const [, file, body] of text.matchAll(MARKER)) {
      assert.equal(body, await readFile(path.join(REPO, file!), 'utf8'), `${doc}: the block for ${file} differs from the file`);
      shown++;
    }
    assert.equal(text.split('<!-- example:').length - 1, [...text.matchAll(MARKER)].length, `${doc}: an example marker without a fenced block right after it`);
  }
  assert.ok(shown >= 5, `${shown} examples shown`);
});

test('every file in examples/ is shown in docs/library.md or the README', async () => {
  const shown = (await Promise.all(DOCS.map((d) => readFile(path.join(REPO, d), 'utf8')))).join('\n');
  for (const file of await readdir(path.join(REPO, 'examples'))) {
    assert.ok(shown.includes(`<!-- example: examples/${file} -->`), `examples/${file} is not shown in the docs`);
  }
});
