// Digests (image-spec "Digests"): the grammar, the registered algorithms with their exact hex
// lengths, and hashing as bytes pass (what upload verification compares against).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Digester, DigestAlgorithms, digestOf, isDigestLike, parseDigest, tryParseDigest } from '../../src/oci/digest.js';
import { RegistryError } from '../../src/oci/errors.js';

const H256 = 'a'.repeat(64);
const H512 = 'b'.repeat(128);

describe('digests', () => {
  it('parse sha256 and sha512 with their exact lowercase hex', () => {
    assert.deepEqual(DigestAlgorithms, { sha256: 64, sha512: 128 });
    assert.deepEqual(tryParseDigest(`sha256:${H256}`), { algorithm: 'sha256', hex: H256, value: `sha256:${H256}` });
    assert.deepEqual(tryParseDigest(`sha512:${H512}`), { algorithm: 'sha512', hex: H512, value: `sha512:${H512}` });
    assert.deepEqual(parseDigest(`sha256:${'0123456789abcdef'.repeat(4)}`).hex, '0123456789abcdef'.repeat(4));
  });

  it('refuse other lengths, cases, algorithms and shapes', () => {
    for (const value of [
      `sha256:${H256.slice(1)}`, `sha256:${H256}a`, `sha256:${H256.toUpperCase()}`, `sha256:${'g'.repeat(64)}`,
      `sha512:${H256}`, `sha256:${H512}`, `md5:${'a'.repeat(32)}`, `sha384:${'a'.repeat(96)}`,
      `SHA256:${H256}`, `sha256${H256}`, `:${H256}`, 'sha256:', `sha256::${H256}`, `sha256:${H256}:`,
      ` sha256:${H256}`, `sha256:${H256} `, `sha256:${H256}\n`, `toString:${H256}`, `constructor:${H256}`,
      `sha256:${H256.slice(2)}==`, `sha256+x:${H256}`, `${'a'.repeat(200)}:${'a'.repeat(56)}`,
    ]) {
      assert.equal(tryParseDigest(value), undefined, value);
    }
  });

  it('refuse the spec grammar\'s other digests, which could not be verified', () => {
    for (const value of [`a:${'a'.repeat(254)}`, `sha256+b64u:${'a'.repeat(43)}`, `multihash+base58:${'a'.repeat(46)}`]) assert.equal(tryParseDigest(value), undefined, value);
  });

  it('answer DIGEST_INVALID (400) naming the value', () => {
    assert.throws(() => parseDigest('sha256:xyz'), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.code, 'DIGEST_INVALID');
      assert.equal(err.message, 'invalid digest');
      assert.equal(err.status, 400);
      assert.deepEqual(err.detail, { digest: 'sha256:xyz' });
      return true;
    });
  });

  it('tell a digest-like reference from a tag by its colon', () => {
    assert.equal(isDigestLike(`sha256:${H256}`), true);
    assert.equal(isDigestLike('v1.0'), false);
  });

  it('hash whole buffers and streamed chunks alike, in either algorithm', () => {
    const data = Buffer.from('hello, registry');
    const want256 = createHash('sha256').update(data).digest('hex');
    const want512 = createHash('sha512').update(data).digest('hex');
    assert.deepEqual(digestOf(data), { algorithm: 'sha256', hex: want256, value: `sha256:${want256}` });
    assert.equal(digestOf(data, 'sha512').value, `sha512:${want512}`);

    const d = new Digester();
    assert.equal(d.algorithm, 'sha256');
    assert.equal(d.size, 0);
    d.update(data.subarray(0, 5));
    const copy = d.copy();
    d.update(data.subarray(5));
    assert.equal(d.size, data.length);
    assert.deepEqual(d.digest(), { algorithm: 'sha256', hex: want256, value: `sha256:${want256}` });
    // The copy goes on from where it was taken, independently.
    assert.equal(copy.size, 5);
    assert.equal(copy.algorithm, 'sha256');
    copy.update(data.subarray(5));
    assert.equal(copy.digest().value, `sha256:${want256}`);
    assert.ok(copy instanceof Digester);

    const d512 = new Digester('sha512');
    d512.update(data);
    assert.deepEqual(d512.digest(), { algorithm: 'sha512', hex: want512, value: `sha512:${want512}` });
  });
});
