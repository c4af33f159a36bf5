/**
 * The storage commands (garbage-collect, retention, quota) print an expected failure (a bad
 * configuration, a collection refusing to run) as one line and exit 1; anything else keeps its
 * stack. The error classes are passed in, so the client verbs that share this folder never load
 * the server's configuration modules.
 */
export async function exitOnOneLineErrors(kinds: ReadonlyArray<abstract new (...args: never[]) => Error>, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (kinds.some((kind) => error instanceof kind)) {
      process.stderr.write(`berth: ${(error as Error).message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
