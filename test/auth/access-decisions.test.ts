// Access decisions as tables: what each route needs (src/auth/access.ts), the scope grammar and
// grants (src/auth/scope.ts), and berth.auth.permissions rules (src/auth/permissions.ts). The
// controllers that use them are tested over HTTP in test/auth/ and test/security/.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accessFor } from '../../src/auth/access.js';
import { Permissions, compilePattern } from '../../src/auth/permissions.js';
import { AccessSet, formatScope, parseScope, parseScopes, toScopes } from '../../src/auth/scope.js';
import type { Route } from '../../src/api/router.js';
import { RegistryError } from '../../src/oci/errors.js';

const q = (s = '') => new URLSearchParams(s);
const fmt = (route: Route, method: string, query = '') => accessFor(route, method, q(query)).map((a) => `${a.type}:${a.name}:${a.action}`);
const PULL = ['repository:r:pull'];
const PUSH = ['repository:r:pull', 'repository:r:push'];
const DELETE = ['repository:r:delete'];

describe('the access each route needs', () => {
  it('base and session need nothing, catalog and repositories the catalog', () => {
    for (const m of ['GET', 'POST', 'DELETE']) {
      assert.deepEqual(fmt({ kind: 'base' }, m), []);
      assert.deepEqual(fmt({ kind: 'session' }, m), []);
      assert.deepEqual(fmt({ kind: 'catalog' }, m), ['registry:catalog:*']);
      assert.deepEqual(fmt({ kind: 'repositories' }, m), ['registry:catalog:*']);
    }
  });

  it('reads need pull; any other method on a read-only route needs pull and push', () => {
    const routes: Route[] = [
      { kind: 'tags', name: 'r' },
      { kind: 'referrers', name: 'r', digest: 'd' },
      { kind: 'image', name: 'r', reference: 'v1' },
      { kind: 'referrer-tree', name: 'r', digest: 'd' },
    ];
    for (const route of routes) {
      assert.deepEqual(fmt(route, 'GET'), PULL, route.kind);
      assert.deepEqual(fmt(route, 'HEAD'), PULL, route.kind);
      for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) assert.deepEqual(fmt(route, m), PUSH, `${m} ${route.kind}`);
    }
  });

  it('manifests, blobs and repositories: reads pull, DELETE delete, the rest pull and push', () => {
    const routes: Route[] = [
      { kind: 'manifest', name: 'r', reference: 'v1' },
      { kind: 'blob', name: 'r', digest: 'd' },
      { kind: 'repository', name: 'r' },
    ];
    for (const route of routes) {
      assert.deepEqual(fmt(route, 'GET'), PULL, route.kind);
      assert.deepEqual(fmt(route, 'HEAD'), PULL, route.kind);
      assert.deepEqual(fmt(route, 'DELETE'), DELETE, route.kind);
      for (const m of ['PUT', 'POST', 'PATCH', 'OPTIONS']) assert.deepEqual(fmt(route, m), PUSH, `${m} ${route.kind}`);
    }
  });

  it('uploads need pull and push whatever the method; a mount also needs pull on a valid other source', () => {
    for (const m of ['GET', 'POST', 'PATCH', 'PUT', 'DELETE']) {
      assert.deepEqual(fmt({ kind: 'upload', name: 'r', id: 'u' }, m), PUSH, m);
      assert.deepEqual(fmt({ kind: 'uploads', name: 'r' }, m), PUSH, m);
    }
    const uploads: Route = { kind: 'uploads', name: 'r' };
    assert.deepEqual(fmt(uploads, 'POST', 'mount=sha256:x&from=src/app'), [...PUSH, 'repository:src/app:pull']);
    assert.deepEqual(fmt(uploads, 'POST', 'mount=&from=src'), [...PUSH, 'repository:src:pull'], 'an empty mount is still a mount');
    assert.deepEqual(fmt(uploads, 'POST', 'from=src'), PUSH, 'no mount');
    assert.deepEqual(fmt(uploads, 'POST', 'mount=sha256:x'), PUSH, 'no source');
    assert.deepEqual(fmt(uploads, 'POST', 'mount=sha256:x&from=r'), PUSH, 'the same repository');
    assert.deepEqual(fmt(uploads, 'POST', 'mount=sha256:x&from=../r'), PUSH, 'an invalid source (the mount is refused later)');
  });
});

describe('scopes', () => {
  it('parse type, name and actions, with a resource class, deduplicated and without empty actions', () => {
    assert.deepEqual(parseScope('repository:team/app:pull,push'), { type: 'repository', name: 'team/app', actions: ['pull', 'push'] });
    assert.deepEqual(parseScope('repository(plugin):team/app:pull'), { type: 'repository', name: 'team/app', actions: ['pull'] });
    assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
    assert.deepEqual(parseScope('repository:a:pull,,pull,'), { type: 'repository', name: 'a', actions: ['pull'] });
    assert.deepEqual(parseScope('repository:a:'), { type: 'repository', name: 'a', actions: [] });
    assert.deepEqual(parseScope('other:x:y:z'), { type: 'other', name: 'x:y', actions: ['z'] }, 'the name runs to the last colon');
  });

  it('refuse malformed scopes and names outside the grammar with NAME_INVALID', () => {
    const refused = [
      'repository', 'repository:a', ':a:pull', 'Repository:a:pull', 'repo sitory:a:pull', 'repository(:a:pull', 'repository()x:a:pull',
      'repository:a:PULL', 'repository:a:pull;rm', 'repository:a:pu-ll', 'repository:../a:pull', 'repository:A:pull', 'repository::pull',
      'registry:other:*', 'registry::*', `repository:${'a'.repeat(1020)}:pull`,
    ];
    for (const s of refused) {
      assert.throws(() => parseScope(s), (err: unknown) => err instanceof RegistryError && err.code === 'NAME_INVALID', s);
    }
    const why: Array<[string, string]> = [
      ['repository', 'malformed scope (expected type:name:actions)'],
      [':a:pull', 'malformed scope (expected type:name:actions)'],
      ['repository:a', 'malformed scope (expected type:name:actions)'],
      ['Repository:a:pull', 'malformed scope type'],
      ['repository:a:PULL', 'malformed scope actions'],
      ['repository:A:pull', 'invalid repository name in scope'],
      ['registry:other:*', 'unknown registry resource in scope'],
    ];
    for (const [scope, message] of why) {
      assert.throws(() => parseScope(scope), (err: unknown) => err instanceof RegistryError && err.message === message && (err.detail as { scope: string }).scope === scope, scope);
    }
    const tooLong = `repository:${'a'.repeat(1020)}:pull`;
    assert.throws(() => parseScope(tooLong), (err: unknown) => err instanceof RegistryError && (err.detail as { scope: string }).scope === tooLong.slice(0, 64), 'a long scope is quoted by its start');
    assert.equal(parseScope(`repository:${'a'.repeat(255)}:pull`).name.length, 255);
    const long = `other:${'a'.repeat(1024 - 'other::x'.length)}:x`;
    assert.equal(long.length, 1024);
    assert.equal(parseScope(long).type, 'other', 'exactly 1024 characters');
    assert.throws(() => parseScope(`${long}x`), /scope too long/);
  });

  it('come several to a value, separated by spaces', () => {
    assert.deepEqual(parseScopes(['repository:a:pull  repository:b:push', '', 'registry:catalog:*']).map(formatScope), ['repository:a:pull', 'repository:b:push', 'registry:catalog:*']);
    assert.deepEqual(parseScopes([]), []);
  });

  it('group needed access by resource in first-seen order for a challenge', () => {
    const scopes = toScopes([
      { type: 'repository', name: 'b', action: 'pull' },
      { type: 'repository', name: 'a', action: 'pull' },
      { type: 'repository', name: 'b', action: 'push' },
      { type: 'repository', name: 'b', action: 'pull' },
      { type: 'registry', name: 'b', action: 'x' },
    ]);
    assert.deepEqual(scopes.map(formatScope), ['repository:b:pull,push', 'repository:a:pull', 'registry:b:x']);
  });

  it('grant exactly the actions given per resource, or all of them with *', () => {
    const set = new AccessSet([{ type: 'repository', name: 'a', actions: ['pull'] }, { type: 'registry', name: 'catalog', actions: ['*'] }]);
    set.add('repository', 'a', ['push']);
    set.add('repository', 'b', []);
    assert.equal(set.allows({ type: 'repository', name: 'a', action: 'pull' }), true);
    assert.equal(set.allows({ type: 'repository', name: 'a', action: 'push' }), true);
    assert.equal(set.allows({ type: 'repository', name: 'a', action: 'delete' }), false);
    assert.equal(set.allows({ type: 'repository', name: 'b', action: 'pull' }), false);
    assert.equal(set.allows({ type: 'repository', name: 'c', action: 'pull' }), false);
    assert.equal(set.allows({ type: 'registry', name: 'catalog', action: '*' }), true);
    assert.equal(set.allows({ type: 'registry', name: 'catalog', action: 'anything' }), true);
    assert.equal(set.allows({ type: 'repository', name: 'catalog', action: 'pull' }), false, 'type is part of the resource');
    assert.equal(new AccessSet().allows({ type: 'repository', name: 'a', action: 'pull' }), false);
  });
});

describe('permission rules', () => {
  const rule = (r: Partial<{ repositories: string[]; users: string[]; groups: string[]; anonymous: boolean; actions: Array<'pull' | 'push' | 'delete'> }>) => ({
    repositories: [], users: [], groups: [], anonymous: false, actions: [], ...r,
  });
  const perms = new Permissions(
    [
      rule({ repositories: ['public/*'], anonymous: true, actions: ['pull'] }),
      rule({ repositories: ['team-a/**'], groups: ['a'], actions: ['pull', 'push'] }),
      rule({ repositories: ['team-a/**'], users: ['boss'], actions: ['delete'] }),
      rule({ repositories: ['shared'], users: ['*'], actions: ['pull'] }),
      rule({ repositories: ['admin/**', 'ops/*'], users: ['root'], actions: ['pull', 'push', 'delete'] }),
    ],
    { a: ['ann', 'boss'], b: ['bob', 'ann'] },
  );
  const can = (user: string | undefined, name: string, action: string) => perms.allows(user, { type: 'repository', name, action });

  it('take the union of the matching rules for users, groups, any user and anonymous callers', () => {
    assert.deepEqual([...perms.actions('boss', 'team-a/x')].sort(), ['delete', 'pull', 'push']);
    assert.deepEqual([...perms.actions('ann', 'team-a/x/y')].sort(), ['pull', 'push']);
    assert.deepEqual([...perms.actions('bob', 'team-a/x')], []);
    assert.deepEqual([...perms.actions('bob', 'shared')], ['pull']);
    assert.deepEqual([...perms.actions(undefined, 'shared')], []);
    assert.deepEqual([...perms.actions(undefined, 'public/app')], ['pull']);
    assert.deepEqual([...perms.actions('bob', 'public/app')], ['pull'], 'what anonymous callers may, users may');
    assert.deepEqual([...perms.actions('nobody', 'elsewhere')], []);
  });

  it('decide each access, * only with all three actions, and nothing but repositories and the catalog', () => {
    assert.equal(can('ann', 'team-a/x', 'push'), true);
    assert.equal(can('ann', 'team-a/x', 'delete'), false);
    assert.equal(can('root', 'admin/x', '*'), true);
    assert.equal(can('boss', 'team-a/x', '*'), true);
    assert.equal(can('ann', 'team-a/x', '*'), false);
    assert.equal(can(undefined, 'public/app', 'pull'), true);
    assert.equal(can(undefined, 'public/app', 'push'), false);
    assert.equal(perms.allows('root', { type: 'other', name: 'admin/x', action: 'pull' }), false);
    assert.equal(perms.allows('root', { type: 'registry', name: 'other', action: '*' }), false);
    assert.equal(perms.allows('bob', { type: 'repository', name: 'catalog', action: 'push' }), false, 'a repository named catalog is no catalog');
    assert.equal(perms.canPull('ann', 'team-a/x'), true);
    assert.equal(perms.canPull('bob', 'team-a/x'), false);
  });

  it('open the catalog to authenticated callers, and to anonymous ones only if a rule lets them pull', () => {
    const catalog = { type: 'registry', name: 'catalog', action: '*' };
    assert.equal(perms.allows('bob', catalog), true);
    assert.equal(perms.allows(undefined, catalog), true);
    const closed = new Permissions([rule({ repositories: ['**'], users: ['*'], actions: ['pull'] })], {});
    assert.equal(closed.allows(undefined, catalog), false);
    assert.equal(closed.allows('anyone', catalog), true);
  });

  it('match * within one component, ** across them, everything else literally', () => {
    const cases: Array<[string, string, boolean]> = [
      ['public/*', 'public/app', true],
      ['public/*', 'public/a/b', false],
      ['public/*', 'public/', true],
      ['public/*', 'xpublic/app', false],
      ['team/**', 'team/a/b/c', true],
      ['team/**', 'team', false],
      ['**', 'anything/at/all', true],
      ['a.b', 'a.b', true],
      ['a.b', 'axb', false],
      ['a+b', 'a+b', true],
      ['a+b', 'aab', false],
      ['a-[b]', 'a-[b]', true],
      ['a-[b]', 'a-b', false],
      ['ops/*', 'ops/x', true],
      ['x', 'x/y', false],
      ['x', 'y/x', false],
      ['a**b', 'a/x/b', true],
      ['a**b', 'a/x/c', false],
    ];
    for (const [pattern, name, want] of cases) assert.equal(compilePattern(pattern).test(name), want, `${pattern} ~ ${name}`);
  });
});
