/** Polling for a test: the condition is what the test waits for; the deadline only turns a hang into a failure naming it. */

/** Polls `check` every `everyMs` until it returns true; fails naming `what` after `ms`. */
export async function until(ms: number, what: string, check: () => boolean | Promise<boolean>, everyMs = 50): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not so within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
