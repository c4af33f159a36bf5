/**
 * Exit codes and error messages of the client verbs: 0 success, 1 a registry, network or file
 * error, 2 bad usage, 130 interrupted (Ctrl-C: the shell's convention for SIGINT). A registry's
 * refusal prints one line naming what was being done, the reference, the spec's error code in
 * Docker's words (`denied: requested access to the resource is denied`), and the registry and
 * request that answered.
 */
import { ClientError } from '../../client/errors.js';
import { ReferenceError } from '../../oci/reference.js';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** The command line asked for something that cannot be done as written. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** OpenSSL's words for a TLS handshake answered by something that is not TLS. */
const NOT_TLS = /wrong version number|packet length too long|unknown protocol/;

function reasonOf(err: ClientError): string {
  // A registry that speaks plain http, asked over https (any host but loopback ones by default).
  if (err.code === 'EPROTO' && NOT_TLS.test(err.reason)) return 'the registry does not answer in TLS; if it speaks plain http, --plain-http talks http to it';
  return err.reason.trim();
}

export function describeError(err: unknown, context: string): { message: string; exitCode: number } {
  const where = context ? `${context}: ` : '';
  if (err instanceof UsageError || err instanceof ReferenceError) return { message: `${where}${err.message}`, exitCode: EXIT_USAGE };
  if (err instanceof ClientError) {
    const request = err.request ? `, ${err.request}` : '';
    const status = err.status !== undefined ? ` ${err.status}` : '';
    const from = err.registry ? ` (${err.registry}${request}${status})` : '';
    return { message: `${where}${err.code.toLowerCase()}: ${reasonOf(err)}${from}`, exitCode: EXIT_ERROR };
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return { message: `${where}${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`, exitCode: EXIT_ERROR };
  }
  return { message: `${where}${String(err)}`, exitCode: EXIT_ERROR };
}

/**
 * Runs a verb: Ctrl-C (or SIGTERM) aborts it through the signal it is given, and the verb's own
 * cleanup runs (an upload in flight is cut, so the registry commits nothing; a layout's
 * temporary file is removed); a second Ctrl-C exits at once. Errors become one line on stderr
 * and an exit code.
 */
export async function runVerb(context: string | (() => string), fn: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const ac = new AbortController();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(EXIT_INTERRUPTED);
    interrupted = true;
    ac.abort(Object.assign(new Error(`interrupted by ${signal}`), { name: 'AbortError' }));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await fn(ac.signal);
  } catch (err) {
    if (interrupted) {
      process.stderr.write('berth: interrupted; nothing partial was committed. Run the same command again to finish: only what is missing is sent.\n');
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }
    const { message, exitCode } = describeError(err, typeof context === 'function' ? context() : context);
    process.stderr.write(`berth: ${message}\n`);
    process.exitCode = exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
