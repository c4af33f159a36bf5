/**
 * berth.auth.ratelimit under concurrency: an attempt is counted when it starts and given back
 * when its password was right, per user and per client address, so attempts sent together check
 * at most `failures` wrong passwords in a window; the same at the token issuer (GET with Basic,
 * and the OAuth2 password grant). Several clients are several loopback addresses (127.0.0.x).
 * It used to be checked before bcrypt and counted after: 60 at once were all checked and the
 * right password last got in; 500 at once checked 301 (test/security/parallel-logins.ts measures).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { until } from '../helpers/wait.js';
import type { Registry } from '../helpers/registry.js';
import { assertStillServing, type Level } from './harness.js';
import { attempt, parallelLogins, startLimited, tallyOf, type Endpoint, type Route } from './parallel-logins.js';

const FAILURES = 10;
const USERS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw', dave: 'dave-pw', erin: 'erin-pw' };

/** "login failed" lines in the log: one per wrong password checked. */
function failedLines(reg: Registry, user: string): number {
  return (reg.output?.() ?? '').split('\n').filter((l) => /login failed/.test(l) && l.includes(user)).length;
}

/**
 * The "login failed" lines once the child's log has them all: waits (it flushes 200 ms after a
 * line, later on a loaded machine) until `expected` are there, then two flush intervals more so
 * that any extra line would show too.
 */
async function settledFailedLines(reg: Registry, user: string, expected: number): Promise<number> {
  await until(10_000, `${expected} "login failed" lines for ${user} in the log`, () => failedLines(reg, user) >= expected);
  await new Promise((r) => setTimeout(r, 400));
  return failedLines(reg, user);
}

const routes: Array<[Endpoint, Route]> = [
  ['htpasswd', 'htpasswd'],
  ['issuer', 'issuer'],
  ['issuer', 'issuer-post'],
];

for (const level of ['info', 'debug'] as Level[]) {
  for (const [endpoint, route] of routes) {
    describe(`login limit under concurrency: ${route}, log level ${level}`, () => {
      let reg: Registry;
      let cleanup: () => Promise<void>;
      before(async () => {
        ({ reg, cleanup } = await startLimited({ endpoint, level, failures: FAILURES, users: USERS }));
      });
      after(() => cleanup());

      it(`60 wrong passwords at once for one user: ${FAILURES} checked, the rest refused, and then the right one too`, async () => {
        const tally = await parallelLogins(reg, route, 60, { user: 'alice', password: 'also-wrong', from: '127.0.0.2' });
        const { ok, unauthorized, limited, other } = tally;
        assert.deepEqual({ ok, unauthorized, limited, other }, { ok: 0, unauthorized: FAILURES, limited: 60 - FAILURES, other: [] });
        assert.equal(await settledFailedLines(reg, 'alice', FAILURES), FAILURES);
        // Later in the window the right password is refused too, before any check, from anywhere.
        assert.equal(await attempt(reg, route, 'alice', USERS.alice, '127.0.0.3'), 429);
      });

      it('500 attempts at once from one address, for many users, check no more than the limit', async () => {
        const statuses = await Promise.all(Array.from({ length: 500 }, (_, i) => attempt(reg, route, `guess-${i % 50}`, `wrong-${i}`, '127.0.0.4')));
        const tally = tallyOf(statuses);
        assert.equal(tally.unauthorized, FAILURES, JSON.stringify({ ...tally, other: tally.other.length }));
        assert.equal(tally.ok, 0);
        // A refused connection (accept queue full) never reached a check either.
        assert.equal(tally.limited + tally.other.filter((s) => s === 0).length, 490);
        // The address is used up, for users it has not tried too; other addresses are not.
        assert.equal(await attempt(reg, route, 'bob', USERS.bob, '127.0.0.4'), 429);
        assert.equal(await attempt(reg, route, 'bob', USERS.bob, '127.0.0.5'), 200);
      });

      it('a client logging in with the right password many times at once is never limited', async () => {
        const statuses = await Promise.all(Array.from({ length: 40 }, () => attempt(reg, route, 'carol', USERS.carol, '127.0.0.6')));
        assert.deepEqual(statuses, Array(40).fill(200));
        // Nor do successes use up the window: a few wrong ones still get their 401 first.
        for (let i = 0; i < 3; i++) assert.equal(await attempt(reg, route, 'carol', `nope-${i}`, '127.0.0.6'), 401);
        assert.equal(await attempt(reg, route, 'carol', USERS.carol, '127.0.0.6'), 200);
      });

      it('a 429 says when to come back, and the process serves on', async () => {
        const res = await reg.req('GET', route === 'htpasswd' ? '/v2/' : '/auth/token?service=security', {
          headers: { Authorization: `Basic ${Buffer.from('alice:whatever').toString('base64')}` },
        });
        assert.equal(res.status, 429);
        assert.equal(res.json().errors[0].code, 'TOOMANYREQUESTS');
        const retry = Number(res.header('retry-after'));
        assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
        // /v2/ without credentials: 401 (a challenge), whichever controller.
        await assertStillServing(reg, {}, 401);
      });
    });
  }
}
