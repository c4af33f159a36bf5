// The reference and platform grammar the client and the CLI share (src/oci/reference.ts, platform.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReference, isLoopbackHost, parseReference, ReferenceError } from '../../src/oci/reference.js';
import { parsePlatform, platformMatches, formatPlatform } from '../../src/oci/platform.js';
import { parseChallenges } from '../../src/client/auth/challenge.js';
import { mergeScopes } from '../../src/client/auth/client.js';
import { nextLink } from '../../src/client/remote/paginate.js';
import { backoff, parseRetryAfter, retryPolicy } from '../../src/client/http/retry.js';

const D = `sha256:${'ab'.repeat(32)}`;

describe('reference grammar', () => {
  it('parses HOST[:PORT]/REPO[:TAG|@DIGEST]', () => {
    assert.deepEqual(parseReference('127.0.0.1:5000/team/app:v1'), { kind: 'remote', host: '127.0.0.1:5000', repository: 'team/app', tag: 'v1', digest: undefined });
    const r = parseReference(`registry.example.com/app@${D}`);
    assert.equal(r.kind === 'remote' && r.digest?.value, D);
    assert.equal(r.kind === 'remote' && r.tag, undefined);
    const both = parseReference(`localhost/a/b:1.0@${D}`);
    assert.equal(both.kind === 'remote' && both.tag, '1.0');
    assert.equal(parseReference('docker://[::1]:5000/x').kind, 'remote');
    assert.equal(formatReference(parseReference('localhost:5000/a/b:c')), 'localhost:5000/a/b:c');
    assert.equal(formatReference(parseReference(`oci:/tmp/x@${D}`)), `oci:/tmp/x@${D}`);
  });

  it('parses oci:DIR[:TAG] and oci:DIR@DIGEST', () => {
    assert.deepEqual(parseReference('oci:/tmp/layout:v1'), { kind: 'layout', path: '/tmp/layout', tag: 'v1', digest: undefined });
    assert.deepEqual(parseReference('oci:./rel'), { kind: 'layout', path: './rel', tag: undefined, digest: undefined });
    const d = parseReference(`oci:/tmp/l@${D}`);
    assert.equal(d.kind === 'layout' && d.digest?.value, D);
  });

  it('refuses references without a host, with bad names, tags or digests', () => {
    for (const bad of ['ubuntu', 'library/ubuntu:1', 'localhost/UPPER', 'localhost/a:b:c', 'localhost/a@sha256:12', 'a.b/x:' + 't'.repeat(129), 'oci:', 'oci:/x:bad tag', 'exa_mple.com/x']) {
      assert.throws(() => parseReference(bad), ReferenceError, bad);
    }
    assert.throws(() => parseReference('ubuntu:latest'), /no registry host/);
  });

  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1:5000', '127.1.2.3', 'localhost', 'localhost:80', '[::1]:5000']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['128.0.0.1', 'example.com', 'localhost.example.com', '[::2]', '10.0.0.1:5000']) assert.equal(isLoopbackHost(h), false, h);
  });

  it('parses and matches platforms', () => {
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.equal(formatPlatform(parsePlatform('linux/amd64')), 'linux/amd64');
    assert.throws(() => parsePlatform('linux'), /os\/architecture/);
    assert.equal(platformMatches(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' }), true);
    assert.equal(platformMatches(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v7' }), false);
    assert.equal(platformMatches(parsePlatform('linux/amd64'), { os: 'windows', architecture: 'amd64' }), false);
  });
});

describe('client protocol helpers', () => {
  it('parses WWW-Authenticate challenges', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.example.com/token",service="reg",scope="repository:a/b:pull,push"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'reg', scope: 'repository:a/b:pull,push' } },
    ]);
    assert.deepEqual(parseChallenges('Basic realm="Berth \\"x\\"", Bearer realm=r, error="insufficient_scope"').map((c) => [c.scheme, c.params]), [
      ['basic', { realm: 'Berth "x"' }],
      ['bearer', { realm: 'r', error: 'insufficient_scope' }],
    ]);
  });

  it('merges scopes per resource', () => {
    assert.deepEqual(mergeScopes(['repository:a:pull', 'repository:a:push repository:b:pull', 'registry:catalog:*']), ['registry:catalog:*', 'repository:a:pull,push', 'repository:b:pull']);
  });

  it('finds the next page in a Link header', () => {
    assert.equal(nextLink('</v2/_catalog?last=b&n=2>; rel="next"'), '/v2/_catalog?last=b&n=2');
    assert.equal(nextLink('<https://x/prev>; rel="prev", <https://x/next>; rel=next'), 'https://x/next');
    assert.equal(nextLink(undefined), undefined);
  });

  it('backs off exponentially with jitter, honours Retry-After, and stops', () => {
    const p = retryPolicy({ attempts: 4, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 });
    assert.equal(backoff(p, 1, undefined, () => 0), 50);
    assert.equal(backoff(p, 3, undefined, () => 1), 400);
    assert.equal(backoff(p, 2, 3000), 3000);
    assert.equal(backoff(p, 2, 6000), undefined, 'a Retry-After beyond the limit gives up');
    assert.equal(backoff(p, 4), undefined, 'attempts used up');
    assert.equal(parseRetryAfter('2'), 2000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter(new Date(now + 10_000).toUTCString(), now), 10_000);
  });
});
