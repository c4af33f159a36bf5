// The upload Location's `_state` (Distribution's format: base64url of an HMAC-SHA256 followed by
// its JSON, keyed with http.secret): what it holds, and every way a token may fail to verify.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { RegistryError } from '../../src/oci/errors.js';
import { packUploadState, unpackUploadState, uploadSecret, verifyUploadState, type UploadState } from '../../src/storage/upload-token.js';

const SECRET = 'test-secret';
const STATE: UploadState = { Name: 'team/app', UUID: '0b0c1f3e-2a4d-4b6f-8c9d-0e1f2a3b4c5d', Offset: 42, StartedAt: '2026-12-04T21:00:00.000Z' };

/** A token as Distribution builds it, from any JSON and key. */
function forge(json: string, key = SECRET): string {
  const body = Buffer.from(json);
  return Buffer.concat([createHmac('sha256', key).update(body).digest(), body]).toString('base64url');
}

function invalid(fn: () => unknown, id: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RegistryError);
    assert.equal(err.code, 'BLOB_UPLOAD_INVALID');
    assert.equal(err.message, 'upload state token does not verify (instances must share http.secret)');
    assert.deepEqual(err.detail, { id });
    return true;
  });
}

describe('upload state tokens', () => {
  it('are the HMAC then the JSON, base64url, and read back whole', () => {
    const token = packUploadState(SECRET, STATE);
    assert.equal(token, forge(JSON.stringify(STATE)));
    assert.doesNotMatch(token, /[+/=]/);
    assert.deepEqual(unpackUploadState(SECRET, token), STATE);
    assert.deepEqual(verifyUploadState(SECRET, token, STATE.Name, STATE.UUID), STATE);
    assert.deepEqual(unpackUploadState(SECRET, `${token}==`), STATE, 'padding is ignored');
  });

  it('do not verify under another secret, with a flipped byte, cut short or empty', () => {
    const token = packUploadState(SECRET, STATE);
    assert.equal(unpackUploadState('other', token), undefined);
    const raw = Buffer.from(token, 'base64url');
    for (const at of [0, 31, 32, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[at] = bad[at]! ^ 1;
      assert.equal(unpackUploadState(SECRET, bad.toString('base64url')), undefined, `byte ${at}`);
    }
    assert.equal(unpackUploadState(SECRET, raw.subarray(0, 32).toString('base64url')), undefined, 'the MAC alone');
    assert.equal(unpackUploadState(SECRET, raw.subarray(0, 33).toString('base64url')), undefined, 'one byte of JSON');
    assert.equal(unpackUploadState(SECRET, ''), undefined);
    assert.equal(unpackUploadState(SECRET, 'not base64 at all!'), undefined);
  });

  it('verified under the right key still need a name, an id and a whole, non-negative offset', () => {
    const ok = { Name: 'a', UUID: 'u', Offset: 0, StartedAt: '' };
    assert.deepEqual(unpackUploadState(SECRET, forge(JSON.stringify(ok))), ok, 'offset 0 is where an upload starts');
    for (const json of [
      JSON.stringify({ ...ok, Name: 1 }),
      JSON.stringify({ ...ok, UUID: null }),
      JSON.stringify({ UUID: 'u', Offset: 0 }),
      JSON.stringify({ Name: 'a', Offset: 0 }),
      JSON.stringify({ ...ok, Offset: -1 }),
      JSON.stringify({ ...ok, Offset: 1.5 }),
      JSON.stringify({ ...ok, Offset: '1' }),
      JSON.stringify({ ...ok, Offset: 2 ** 53 }),
      '{"Name":',
      'null',
    ]) {
      assert.equal(unpackUploadState(SECRET, forge(json)), undefined, json);
    }
  });

  it('are refused with BLOB_UPLOAD_INVALID for another repository or upload, or when they do not verify', () => {
    const token = packUploadState(SECRET, STATE);
    invalid(() => verifyUploadState(SECRET, token, 'team/other', STATE.UUID), STATE.UUID);
    invalid(() => verifyUploadState(SECRET, token, STATE.Name, 'another-id'), 'another-id');
    invalid(() => verifyUploadState('other', token, STATE.Name, STATE.UUID), STATE.UUID);
  });

  it('are keyed with http.secret, or one secret per configuration made up at start', () => {
    assert.equal(uploadSecret({ secret: 'configured' }), 'configured');
    const http = {};
    const made = uploadSecret(http);
    assert.equal(Buffer.from(made, 'base64url').length, 32);
    assert.equal(uploadSecret(http), made, 'the same configuration keeps its secret');
    assert.notEqual(uploadSecret({}), made, 'another configuration gets another');
    assert.notEqual(uploadSecret({ secret: '' }), '', 'an empty secret is none');
  });
});
