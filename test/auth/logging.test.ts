// No secret in any log line: passwords, Basic credentials, tokens and htpasswd hashes never appear
// in the server's log (debug level, access log on) across failed and successful logins, token
// requests, bearer requests and a non-bcrypt entry. Also unit checks of scopes, patterns and the
// route → access table.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { accessFor } from '../../src/auth/access.js';
import { compilePattern } from '../../src/auth/permissions.js';
import { parseScope } from '../../src/auth/scope.js';
import { startServer, type RunningServer } from '../../src/api/server.js';
import { parseConfig } from '../../src/config/load.js';
import { request } from '../helpers/http.js';
import { basic, tempDir, writeHtpasswd } from './helpers.js';

describe('secrets stay out of the log', () => {
  const tmp = tempDir('logging');
  const lines: string[] = [];
  let server: RunningServer;
  const htpasswd = path.join(tmp.dir, 'htpasswd');

  before(async () => {
    writeHtpasswd(htpasswd, { alice: 'correct-horse-battery' }, ['legacy:$apr1$PIVAdOQM$Ta0JMgIJDXhoJQey/DYE61']);
    const yaml = [
      'version: 0.1',
      'log:',
      '  level: debug',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(tmp.dir, 'root')}`,
      'http:',
      '  addr: 127.0.0.1:0',
      'auth:',
      '  token:',
      '    autoredirect: true',
      '    service: svc',
      '    issuer: berth',
      'berth:',
      '  auth:',
      '    tokenissuer:',
      `      htpasswd: ${htpasswd}`,
      '',
    ].join('\n');
    const { config } = parseConfig(yaml, {});
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    server = await startServer(config, pino({ level: 'debug' }, sink));
  });
  after(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('logs failed logins by user and address only', async () => {
    const wrong = await request(server.url, 'GET', '/auth/token?service=svc', { headers: { Authorization: basic('alice', 'wrong-guess-123') } });
    assert.equal(wrong.status, 401);
    const ok = await request(server.url, 'GET', '/auth/token?service=svc&scope=repository:a/b:pull,push', { headers: { Authorization: basic('alice', 'correct-horse-battery') } });
    assert.equal(ok.status, 200);
    const token = ok.json().token as string;
    assert.equal((await request(server.url, 'GET', '/v2/a/b/tags/list', { headers: { Authorization: `Bearer ${token}` } })).status, 404);
    const form = 'grant_type=password&username=alice&password=correct-horse-battery&service=svc';
    assert.equal((await request(server.url, 'POST', '/auth/token', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form })).status, 200);
    await new Promise((r) => setTimeout(r, 50));
    const log = lines.join('');
    assert.match(log, /login failed/);
    assert.match(log, /"user":"alice"/);
    assert.match(log, /"user":"legacy".*unsupported hash kind/);
    const secrets = [
      'wrong-guess-123',
      'correct-horse-battery',
      Buffer.from('alice:wrong-guess-123').toString('base64'),
      Buffer.from('alice:correct-horse-battery').toString('base64'),
      token,
      token.split('.')[2]!,
      '$apr1$PIVAdOQM',
      ...readFileSync(htpasswd, 'utf8').split('\n').filter(Boolean).map((l) => l.slice(l.indexOf(':') + 1)),
    ];
    for (const secret of secrets) assert.ok(!log.includes(secret), `log contains a secret (${secret.slice(0, 6)}…)`);
  });
});

describe('scopes, patterns and the access table', () => {
  it('parses scopes and refuses bad ones', () => {
    assert.deepEqual(parseScope('repository:team/app:pull,push'), { type: 'repository', name: 'team/app', actions: ['pull', 'push'] });
    assert.deepEqual(parseScope('repository(plugin):a:pull'), { type: 'repository', name: 'a', actions: ['pull'] });
    assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
    for (const bad of ['repository:../x:pull', 'repository:a/../../b:pull', 'repository:a//b:pull', 'repository::pull', 'x', 'a:b', 'repository:a:PULL', 'registry:x:*', `repository:${'a'.repeat(2000)}:pull`]) {
      assert.throws(() => parseScope(bad), { code: 'NAME_INVALID' }, bad);
    }
  });

  it('matches * within a component and ** across components', () => {
    assert.ok(compilePattern('team-a/**').test('team-a/x/y'));
    assert.ok(!compilePattern('team-a/**').test('team-ab/x'));
    assert.ok(compilePattern('public/*').test('public/x'));
    assert.ok(!compilePattern('public/*').test('public/x/y'));
    assert.ok(compilePattern('**').test('any/thing'));
    assert.ok(!compilePattern('a.b').test('axb'));
  });

  it('maps every route to the access it needs', () => {
    const q = (s = '') => new URLSearchParams(s);
    const r = (name: string, action: string) => ({ type: 'repository', name, action });
    assert.deepEqual(accessFor({ kind: 'base' }, 'GET', q()), []);
    assert.deepEqual(accessFor({ kind: 'catalog' }, 'GET', q()), [{ type: 'registry', name: 'catalog', action: '*' }]);
    assert.deepEqual(accessFor({ kind: 'tags', name: 'a' }, 'GET', q()), [r('a', 'pull')]);
    assert.deepEqual(accessFor({ kind: 'manifest', name: 'a', reference: 'v1' }, 'HEAD', q()), [r('a', 'pull')]);
    assert.deepEqual(accessFor({ kind: 'manifest', name: 'a', reference: 'v1' }, 'PUT', q()), [r('a', 'pull'), r('a', 'push')]);
    assert.deepEqual(accessFor({ kind: 'manifest', name: 'a', reference: 'v1' }, 'DELETE', q()), [r('a', 'delete')]);
    assert.deepEqual(accessFor({ kind: 'blob', name: 'a', digest: 'sha256:x' }, 'DELETE', q()), [r('a', 'delete')]);
    assert.deepEqual(accessFor({ kind: 'referrers', name: 'a', digest: 'sha256:x' }, 'GET', q()), [r('a', 'pull')]);
    assert.deepEqual(accessFor({ kind: 'upload', name: 'a', id: 'u' }, 'PATCH', q()), [r('a', 'pull'), r('a', 'push')]);
    assert.deepEqual(accessFor({ kind: 'uploads', name: 'a' }, 'POST', q('mount=sha256:x&from=b')), [r('a', 'pull'), r('a', 'push'), r('b', 'pull')]);
    assert.deepEqual(accessFor({ kind: 'uploads', name: 'a' }, 'POST', q('mount=sha256:x&from=../etc')), [r('a', 'pull'), r('a', 'push')]);
  });
});
