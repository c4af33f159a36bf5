/**
 * The last-resort guard (src/api/guard.ts), driven through `berth serve` with faults set off in
 * its storage driver (fixtures/faulty-serve.ts): an exception thrown from a callback a request
 * started, or a rejection of its nobody awaited, is logged with the request id, answered 500, and
 * the process serves on; an exception outside any request, or a Node internal assertion, ends
 * the process with status 1 and a fatal line that says why.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startChildRegistry, type Registry } from '../helpers/registry.js';
import type { Level } from './harness.js';
import { waitForLog } from './harness.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'faulty-serve.ts');

function startFaulty(level: Level): Promise<Registry> {
  const yaml = [
    'version: 0.1',
    'log:',
    `  level: ${level}`,
    '  formatter: json',
    'storage:',
    '  faulty:',
    '    rootdirectory: {{root}}',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    '  addr: {{addr}}',
    '',
  ].join('\n');
  return startChildRegistry({ yaml, entry: FIXTURE });
}

/** The JSON log lines of the child so far. */
function lines(reg: Registry): Array<Record<string, unknown>> {
  return (reg.output?.() ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

for (const level of ['info', 'debug'] as Level[]) {
  describe(`the request guard, log level ${level}`, () => {
    for (const kind of ['callback-throws', 'rejection-unobserved']) {
      it(`${kind}: logged with the request id, answered 500, and the process serves on`, async () => {
        const reg = await startFaulty(level);
        try {
          for (const method of ['GET', 'HEAD']) {
            const id = `guard-${kind}-${method}`;
            // A tag per request: a second read of the same link would join the first, which never ends.
            const res = await reg.req(method, `/v2/fault/${kind}/manifests/${method.toLowerCase()}`, { headers: { 'X-Request-Id': id }, allowServerError: true });
            assert.equal(res.status, 500);
            assert.equal(res.header('x-request-id'), id);
            if (method === 'GET') assert.equal(res.json().errors[0].code, 'UNKNOWN');
            await waitForLog(reg, new RegExp(`"reqId":"${id}".*"msg":"error escaped the request handler`));
            const line = lines(reg).find((l) => l.reqId === id && l.escaped !== undefined)!;
            assert.equal(line.level, 50);
            assert.match(JSON.stringify(line.err), /injected/);
          }
          const ok = await reg.req('GET', '/v2/');
          assert.equal(ok.status, 200);
          assert.equal(reg.exitCode?.(), undefined);
        } finally {
          await reg.stop();
        }
      });
    }

    it('an exception outside any request ends the process with status 1, and it says why', async () => {
      const reg = await startFaulty(level);
      try {
        process.kill(reg.pid!, 'SIGUSR2');
        await reg.exited;
        assert.equal(reg.exitCode?.(), 1);
        const fatal = lines(reg).find((l) => l.level === 60);
        assert.ok(fatal, `a fatal line:\n${reg.output?.()}`);
        assert.match(String(fatal.msg), /outside any request; exiting: the process state is unknown/);
        assert.match(JSON.stringify(fatal.err), /injected: thrown outside any request/);
      } finally {
        await reg.stop();
      }
    });

    it('a Node internal assertion inside a request ends the process too', async () => {
      const reg = await startFaulty(level);
      try {
        await reg.req('GET', '/v2/fault/internal-assertion/manifests/latest', { allowServerError: true }).catch(() => undefined);
        await reg.exited;
        assert.equal(reg.exitCode?.(), 1);
        assert.match(String(lines(reg).find((l) => l.level === 60)?.msg), /internal assertion failed; exiting/);
      } finally {
        await reg.stop();
      }
    });
  });
}
