// The mirror authenticating to its upstream: Distribution 2.8.2 with htpasswd (Basic: its challenge
// and its 401s are the reference), and a Berth with the built-in token issuer (the bearer flow: challenge → token endpoint with Basic credentials →
// retry), tokens cached per scope until they expire.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../helpers/clock.js';
import { type Registry, startDistribution } from '../helpers/registry.js';
import { type Berth, Front, type Image, basic, pullImage, pushImage, startBerth, tempDir, writeHtpasswd } from './helpers.js';

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0]!;
}

describe('mirror of an htpasswd upstream (Basic)', () => {
  const tmp = tempDir('basic');
  let upstream: Registry;
  let front: Front;
  const mirrors: Berth[] = [];
  let img: Image;

  before(async () => {
    writeHtpasswd(`${tmp.dir}/htpasswd`, { puller: 'pull-pw' });
    upstream = await startDistribution({ extraYaml: `auth:\n  htpasswd:\n    realm: upstream\n    path: ${tmp.dir}/htpasswd\n` });
    front = await new Front(upstream.url).start();
    img = await pushImage(upstream.url, 'team/app', 'v1', { headers: { Authorization: basic('puller', 'pull-pw') } });
  });

  after(async () => {
    for (const m of mirrors) await m.close();
    await front?.stop();
    await upstream?.stop();
    tmp.cleanup();
  });

  const mirror = async (creds: string) => {
    const m = await startBerth(`${tmp.dir}/mirror-${mirrors.length}`, `proxy:\n  remoteurl: ${front.url}\n${creds}`);
    mirrors.push(m);
    return m;
  };

  it('pulls with the configured username and password', async () => {
    const m = await mirror('  username: puller\n  password: pull-pw\n');
    assert.equal(await pullImage(m.url, 'team/app', 'v1'), img.manifestDigest);
    const blobGets = front.requests.filter((r) => r.path.includes('/blobs/'));
    assert.ok(blobGets.length > 0);
    assert.ok(blobGets.every((r) => r.authorization === basic('puller', 'pull-pw')), 'Basic credentials once the challenge is known');
  });

  it('answers 403 DENIED naming the upstream when the credentials are wrong or missing', async () => {
    for (const creds of ['  username: puller\n  password: wrong\n', '']) {
      const m = await mirror(creds);
      const res = await fetch(`${m.url}/v2/team/app/manifests/v1`);
      assert.equal(res.status, 403);
      const err = await errorOf(res);
      assert.equal(err.code, 'DENIED');
      assert.ok(err.message.includes(front.url), err.message);
    }
  });
});

describe('mirror of a token-issuer upstream (bearer flow)', () => {
  const tmp = tempDir('token');
  let upstream: Berth;
  let front: Front;
  let mirror: Berth;
  let img: Image;
  let other: Image;
  // The mirror's time: tokens age only when the test moves it.
  const clock = new ManualClock();

  before(async () => {
    writeHtpasswd(`${tmp.dir}/htpasswd`, { admin: 'admin-pw', puller: 'pull-pw' });
    upstream = await startBerth(
      `${tmp.dir}/upstream`,
      [
        'auth:',
        '  token:',
        '    autoredirect: true',
        '    service: upstream-test',
        '    issuer: upstream-issuer',
        'berth:',
        '  auth:',
        '    tokenissuer:',
        `      htpasswd: ${tmp.dir}/htpasswd`,
        '      expiration: 5m',
        '    permissions:',
        '      - repositories: ["**"]',
        '        users: [admin]',
        '        actions: [pull, push]',
        '      - repositories: ["team/**"]',
        '        users: [puller]',
        '        actions: [pull]',
        '',
      ].join('\n'),
    );
    front = await new Front(upstream.url).start();
    const token = async (scope: string) => {
      const res = await fetch(`${upstream.url}/auth/token?service=upstream-test&scope=${encodeURIComponent(scope)}`, { headers: { Authorization: basic('admin', 'admin-pw') } });
      return ((await res.json()) as { token: string }).token;
    };
    img = await pushImage(upstream.url, 'team/app', 'v1', { layers: 2, headers: { Authorization: `Bearer ${await token('repository:team/app:pull,push')}` } });
    other = await pushImage(upstream.url, 'team/other', 'v1', { headers: { Authorization: `Bearer ${await token('repository:team/other:pull,push')}` } });
    mirror = await startBerth(`${tmp.dir}/mirror`, `proxy:\n  remoteurl: ${front.url}\n  username: puller\n  password: pull-pw\n`, { clock });
  });

  after(async () => {
    await mirror?.close();
    await front?.stop();
    await upstream?.close();
    tmp.cleanup();
  });

  const tokenRequests = () => front.requests.filter((r) => r.path.startsWith('/auth/token'));

  it('fetches one token per scope with Basic credentials and reuses it while it is valid', async () => {
    assert.equal(await pullImage(mirror.url, 'team/app', 'v1'), img.manifestDigest);
    const tokens = tokenRequests();
    assert.equal(tokens.length, 1, 'one token for the whole pull');
    assert.equal(tokens[0]!.authorization, basic('puller', 'pull-pw'));
    assert.match(decodeURIComponent(tokens[0]!.path), /scope=repository:team\/app:pull/);
    assert.ok(front.requests.filter((r) => r.path.includes('/blobs/')).every((r) => r.authorization?.startsWith('Bearer ')));

    assert.equal(await pullImage(mirror.url, 'team/other', 'v1'), other.manifestDigest);
    assert.equal(tokenRequests().length, 2, 'another scope, another token');
  });

  it('keeps using a token until shortly before it expires, then fetches a new one', async () => {
    const before = tokenRequests().length;
    // The issuer's tokens live 5 minutes; the mirror stops using one 30 s before the end.
    clock.advance(4 * 60_000);
    assert.equal(await pullImage(mirror.url, 'team/app', 'v1'), img.manifestDigest);
    assert.equal(tokenRequests().length, before, 'still valid after 4 minutes');
    clock.advance(31_000);
    assert.equal(await pullImage(mirror.url, 'team/app', 'v1'), img.manifestDigest);
    assert.equal(tokenRequests().length, before + 1, 'a new token 4 min 31 s after the first');
    assert.equal(await pullImage(mirror.url, 'team/app', 'v1'), img.manifestDigest);
    assert.equal(tokenRequests().length, before + 1, 'and that one is reused');
  });

  it('answers 403 for a repository the mirror\'s user may not pull', async () => {
    const res = await fetch(`${mirror.url}/v2/private/thing/manifests/v1`);
    assert.equal(res.status, 403);
    assert.equal((await errorOf(res)).code, 'DENIED');
  });
});
