// The UI's endpoints under the registry's own access control: htpasswd with per-repository
// permissions (each user sees what they may pull, delete offered only with delete rights,
// anonymous rules apply, no browser login dialog for the UI's requests) and the built-in token
// issuer (the session names the token server; tokens per scope carry what the user may do).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultYaml, startRegistry, type Registry } from '../helpers/registry.js';
import { basic, pushImage, tempDir, writeHtpasswd } from '../auth/helpers.js';

const PERMISSIONS = [
  '    groups:',
  '      admins: [root]',
  '    permissions:',
  '      - repositories: ["**"]',
  '        groups: [admins]',
  '        actions: [pull, push, delete]',
  '      - repositories: ["team-a/**"]',
  '        users: [alice]',
  '        actions: [pull, push]',
  '      - repositories: ["public/*"]',
  '        anonymous: true',
];
const REPOS = ['public/base', 'team-a/api', 'team-a/web', 'team-b/db'];

const names = (body: { repositories: Array<{ name: string }> }) => body.repositories.map((r) => r.name);

describe('UI endpoints with htpasswd and permissions', () => {
  const tmp = tempDir('ui-htpasswd');
  const file = path.join(tmp.dir, 'htpasswd');
  let reg: Registry;
  const root = { Authorization: basic('root', 'rootpw') };
  const alice = { Authorization: basic('alice', 'alicepw') };

  before(async () => {
    writeHtpasswd(file, { root: 'rootpw', alice: 'alicepw' });
    reg = await startRegistry({ yaml: defaultYaml({ extraYaml: ['auth:', '  htpasswd:', '    realm: ui-test', `    path: ${file}`, 'berth:', '  auth:', '    ratelimit:', '      failures: 0', ...PERMISSIONS, ''].join('\n') }) });
    for (const repo of REPOS) assert.equal((await pushImage(reg, repo, 'latest', root)).status, 201);
  });
  after(async () => {
    await reg?.stop();
    tmp.cleanup();
  });

  it('the session says who is signed in, and never answers 401', async () => {
    const anonymous = (await reg.req('GET', '/v2/_berth/session')).json();
    assert.deepEqual([anonymous.auth, anonymous.user, anonymous.authenticated, anonymous.token], ['htpasswd', null, false, null]);
    assert.equal((await reg.req('GET', '/v2/_berth/session', { headers: alice })).json().user, 'alice');
    const wrong = await reg.req('GET', '/v2/_berth/session', { headers: { Authorization: basic('alice', 'nope') } });
    assert.equal(wrong.status, 200);
    assert.equal(wrong.json().user, null);
  });

  it('each caller sees only the repositories it may pull', async () => {
    assert.deepEqual(names((await reg.req('GET', '/v2/_berth/repositories', { headers: root })).json()), REPOS);
    assert.deepEqual(names((await reg.req('GET', '/v2/_berth/repositories', { headers: alice })).json()), ['public/base', 'team-a/api', 'team-a/web']);
    assert.deepEqual(names((await reg.req('GET', '/v2/_berth/repositories')).json()), ['public/base'], 'anonymous pull rules apply');
    const tree = (await reg.req('GET', '/v2/_berth/repositories?view=tree', { headers: alice })).json();
    assert.deepEqual(tree.repositories.map((e: { name: string; below: number }) => [e.name, e.below]), [['public', 1], ['team-a', 2]]);
    assert.equal(tree.total, 3, 'counts only what the caller sees');
  });

  it('a repository the caller may not pull is refused, as its manifests are', async () => {
    const res = await reg.req('GET', '/v2/_berth/repositories/team-b/db', { headers: alice });
    assert.equal(res.status, 403);
    assert.equal(res.json().errors[0].code, 'DENIED');
    assert.equal((await reg.req('GET', '/v2/_berth/images/team-b/db/latest', { headers: alice })).status, 403);
  });

  it('delete is offered only to callers with delete rights', async () => {
    assert.equal((await reg.req('GET', '/v2/_berth/repositories/team-a/api', { headers: alice })).json().canDelete, false);
    assert.equal((await reg.req('GET', '/v2/_berth/repositories/team-a/api', { headers: root })).json().canDelete, true);
    assert.equal((await reg.req('GET', '/v2/_berth/images/team-a/api/latest', { headers: root })).json().canDelete, true);
    assert.equal((await reg.req('DELETE', '/v2/team-a/api/manifests/latest', { headers: alice })).status, 403);
  });

  it('a request from the UI gets its challenge in X-Berth-Authenticate, so the browser opens no dialog', async () => {
    const ui = await reg.req('GET', '/v2/_berth/repositories/team-a/api', { headers: { 'X-Berth-UI': '1' } });
    assert.equal(ui.status, 401);
    assert.equal(ui.header('www-authenticate'), undefined);
    assert.equal(ui.header('x-berth-authenticate'), 'Basic realm="ui-test"');
    const api = await reg.req('GET', '/v2/_berth/repositories/team-a/api');
    assert.equal(api.header('www-authenticate'), 'Basic realm="ui-test"', 'other clients get the usual challenge');
  });
});

describe('UI endpoints with the built-in token issuer', () => {
  const tmp = tempDir('ui-issuer');
  const htpasswd = path.join(tmp.dir, 'htpasswd');
  let reg: Registry;

  const token = async (scope: string, user?: [string, string]): Promise<string> => {
    const q = new URLSearchParams({ service: 'ui-test', scope });
    const res = await reg.req('GET', `/auth/token?${q}`, { headers: user ? { Authorization: basic(...user) } : {} });
    assert.equal(res.status, 200, res.text());
    return res.json().token;
  };

  before(async () => {
    writeHtpasswd(htpasswd, { root: 'rootpw', alice: 'alicepw' });
    const yaml = defaultYaml({
      extraYaml: ['auth:', '  token:', '    autoredirect: true', '    service: ui-test', '    issuer: ui-issuer', 'berth:', '  auth:', '    tokenissuer:', `      htpasswd: ${htpasswd}`, ...PERMISSIONS, ''].join('\n'),
    });
    reg = await startRegistry({ yaml });
    for (const repo of REPOS) {
      const t = await token(`repository:${repo}:pull,push`, ['root', 'rootpw']);
      assert.equal((await pushImage(reg, repo, 'latest', { Authorization: `Bearer ${t}` })).status, 201);
    }
  });
  after(async () => {
    await reg?.stop();
    tmp.cleanup();
  });

  it('the session names the token server to ask, and the user a token was issued to', async () => {
    const anonymous = (await reg.req('GET', '/v2/_berth/session')).json();
    assert.equal(anonymous.auth, 'token');
    assert.equal(anonymous.user, null);
    assert.deepEqual(anonymous.token, { realm: `${reg.url}/auth/token`, service: 'ui-test' });
    const signedIn = (await reg.req('GET', '/v2/_berth/session', { headers: { Authorization: `Bearer ${await token('registry:catalog:*', ['alice', 'alicepw'])}` } })).json();
    assert.equal(signedIn.user, 'alice');
    assert.deepEqual(signedIn.token, anonymous.token);
  });

  it('the repositories page lists what the token holder may pull; delete follows the token', async () => {
    const list = await reg.req('GET', '/v2/_berth/repositories', { headers: { Authorization: `Bearer ${await token('registry:catalog:*', ['alice', 'alicepw'])}` } });
    assert.deepEqual(names(list.json()), ['public/base', 'team-a/api', 'team-a/web']);
    const asAlice = await token('repository:team-a/api:pull,delete', ['alice', 'alicepw']);
    assert.equal((await reg.req('GET', '/v2/_berth/repositories/team-a/api', { headers: { Authorization: `Bearer ${asAlice}` } })).json().canDelete, false);
    const asRoot = await token('repository:team-a/api:pull,delete', ['root', 'rootpw']);
    assert.equal((await reg.req('GET', '/v2/_berth/repositories/team-a/api', { headers: { Authorization: `Bearer ${asRoot}` } })).json().canDelete, true);
    const anonymous = await reg.req('GET', '/v2/_berth/repositories/public/base', { headers: { Authorization: `Bearer ${await token('repository:public/base:pull')}` } });
    assert.equal(anonymous.status, 200, 'anonymous pull rules apply');
  });
});
