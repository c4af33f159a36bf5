/**
 * Docker credential helpers: `docker-credential-<name> get` reads a server URL on stdin and
 * prints `{"ServerURL","Username","Secret"}`; a Username of `<token>` means Secret is an
 * identity (refresh) token. "credentials not found" on a failing exit means there are none.
 */
import { spawn } from 'node:child_process';
import { ClientError } from '../errors.js';
import type { Credential } from './credentials.js';

const NOT_FOUND = /credentials not found/i;

export class CredentialHelperError extends ClientError {}

export function runHelper(name: string, serverUrl: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<Credential | undefined> {
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const fail = (why: string, cause?: unknown) =>
      reject(new CredentialHelperError(`${program} get for ${serverUrl}: ${why}`, { code: 'CREDENTIAL_HELPER', cause }));
    const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); fail(`no answer within ${timeoutMs} ms`); }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (err) => { clearTimeout(timer); fail(err.message, err); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        if (NOT_FOUND.test(stdout) || NOT_FOUND.test(stderr)) return resolve(undefined);
        return fail(`exit code ${code}: ${(stderr || stdout).trim().slice(0, 300)}`);
      }
      let doc: { Username?: unknown; Secret?: unknown };
      try {
        doc = JSON.parse(stdout) as typeof doc;
      } catch {
        return fail('answer is not JSON');
      }
      if (typeof doc.Username !== 'string' || typeof doc.Secret !== 'string') return fail('answer lacks Username or Secret');
      if (doc.Username === '<token>') return resolve({ identityToken: doc.Secret });
      if (doc.Secret === '' && doc.Username === '') return resolve(undefined);
      resolve({ username: doc.Username, password: doc.Secret });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(serverUrl);
  });
}
