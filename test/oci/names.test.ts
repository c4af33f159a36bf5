// The repository name and tag grammar (distribution-spec "Pulling manifests"): every separator,
// both ends, the length limits. Nothing that fails here may reach a storage path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_NAME_LENGTH, checkName, isValidName, isValidTag } from '../../src/oci/names.js';
import { RegistryError } from '../../src/oci/errors.js';

describe('repository names', () => {
  it('accepts each separator the grammar allows between lowercase alphanumerics, in one or more components', () => {
    for (const name of ['a', '0', 'library/ubuntu', 'a.b', 'a_b', 'a__b', 'a-b', 'a---b', 'a0/b1/c2', 'x.y_z__w-v/q', 'ab9/cd']) {
      assert.equal(isValidName(name), true, name);
    }
  });

  it('refuses what the grammar does not produce', () => {
    const refused = [
      '', 'A', 'aB', 'a/B', 'a b', 'a:b', 'a@b', 'a+b',
      '/a', 'a/', 'a//b', '-a', 'a-', '_a', 'a_', '.a', 'a.', 'a/-b', 'a/b.',
      'a..b', 'a._b', 'a___b', 'a.-b',
      '..', '../a', 'a/../b', 'a/./b', '.', 'a/.', '%2e%2e',
      'a\nb', 'a\n', '\na',
    ];
    for (const name of refused) assert.equal(isValidName(name), false, JSON.stringify(name));
  });

  it(`limits a name to ${MAX_NAME_LENGTH} characters`, () => {
    assert.equal(MAX_NAME_LENGTH, 255);
    const at = 'a/'.repeat(127) + 'a';
    assert.equal(at.length, 255);
    assert.equal(isValidName(at), true);
    assert.equal(isValidName(`${at}b`), false);
    assert.equal(isValidName('a'.repeat(255)), true);
    assert.equal(isValidName('a'.repeat(256)), false);
  });

  it('checkName returns a valid name and throws NAME_INVALID (400) naming it otherwise', () => {
    assert.equal(checkName('team/app'), 'team/app');
    assert.throws(() => checkName('team/../app'), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.code, 'NAME_INVALID');
      assert.equal(err.message, 'invalid repository name');
      assert.equal(err.status, 400);
      assert.deepEqual(err.detail, { name: 'team/../app' });
      return true;
    });
  });
});

describe('tags', () => {
  it('accepts up to 128 characters of [A-Za-z0-9_.-] not starting with . or -', () => {
    for (const tag of ['a', 'A', '0', '_', '_a', 'v1.2.3', 'a-b_c.D', 'latest', 'x'.repeat(128), `_${'.'.repeat(127)}`]) {
      assert.equal(isValidTag(tag), true, tag);
    }
  });

  it('refuses the rest', () => {
    for (const tag of ['', '.a', '-a', 'a/b', 'a:b', 'a b', 'a@b', 'a+b', 'x'.repeat(129), '..', 'a\n', '\na', 'é']) {
      assert.equal(isValidTag(tag), false, JSON.stringify(tag));
    }
  });
});
