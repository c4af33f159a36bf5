import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { IdleRelease } from '../../src/reclaim.js';
import { until as untilWithin } from '../helpers/wait.js';

/**
 * The buffer pools' let-go (src/reclaim.ts): steps run in order once the pool is unused, never
 * while a use is in progress, and a use in between cancels the steps still to come. Delays are
 * short and the checks are about order and absence, not about how long a step took to come.
 */
function recorder(): { ran: string[]; idle: IdleRelease } {
  const ran: string[] = [];
  const idle = new IdleRelease([
    { afterMs: 20, run: () => ran.push('trim') },
    { afterMs: 400, run: () => ran.push('all') },
  ]);
  return { ran, idle };
}

/** Polls every 5 ms; 5 s is a safety net, not a timing. */
const until = (what: string, ok: () => boolean) => untilWithin(5000, what, ok, 5);

describe('IdleRelease', () => {
  it('runs its steps in order once the last use has ended', async () => {
    const { ran, idle } = recorder();
    idle.enter();
    idle.enter();
    idle.leave();
    await sleep(150);
    assert.deepEqual(ran, [], 'nothing let go while a use is in progress');
    idle.leave();
    await until('both steps', () => ran.length === 2);
    assert.deepEqual(ran, ['trim', 'all']);
  });

  it('a use starting between the steps cancels the rest until it ends', async () => {
    const { ran, idle } = recorder();
    idle.enter();
    idle.leave();
    await until('the first step', () => ran.length === 1);
    idle.enter();
    // Past the second step's time: it must not have run.
    await sleep(500);
    assert.deepEqual(ran, ['trim'], 'the second step waits for the use to end');
    idle.leave();
    await until('both steps again', () => ran.length === 3);
    assert.deepEqual(ran, ['trim', 'trim', 'all']);
  });

  it('touch starts the steps over without a use to count', async () => {
    const { ran, idle } = recorder();
    idle.touch();
    await until('the first step', () => ran.length === 1);
    idle.touch();
    await until('both steps', () => ran.includes('all'));
    assert.deepEqual(ran, ['trim', 'trim', 'all']);
  });
});
