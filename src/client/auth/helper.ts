/**
 * Docker credential helpers: `docker-credential-<name> get` reads a server URL on stdin and
 * prints `{"ServerURL","Username","Secret"}`; a Username of `<token>` means Secret is an
 * identity (refresh) token. "credentials not found" on a failing exit means there are none.
 * `store` reads that same JSON on stdin; `erase` reads the server URL.
 */
import { spawn } from 'node:child_process';
import { ClientError } from '../errors.js';
import type { Credential } from './credentials.js';

const NOT_FOUND = /credentials not found/i;

export class CredentialHelperError extends ClientError {}

/** Runs `docker-credential-<name> <verb>` with `input` on stdin; resolves with its exit code and output. */
function spawnHelper(name: string, verb: string, input: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, [verb], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new CredentialHelperError(`${program} ${verb}: no answer within ${timeoutMs} ms`, { code: 'CREDENTIAL_HELPER' }));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CredentialHelperError(`${program} ${verb}: ${err.message}`, { code: 'CREDENTIAL_HELPER', cause: err }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

export async function runHelper(name: string, serverUrl: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<Credential | undefined> {
  const fail = (why: string) => new CredentialHelperError(`docker-credential-${name} get for ${serverUrl}: ${why}`, { code: 'CREDENTIAL_HELPER' });
  const { code, stdout, stderr } = await spawnHelper(name, 'get', serverUrl, env, timeoutMs);
  if (code !== 0) {
    if (NOT_FOUND.test(stdout) || NOT_FOUND.test(stderr)) return undefined;
    throw fail(`exit code ${code}: ${(stderr || stdout).trim().slice(0, 300)}`);
  }
  let doc: { Username?: unknown; Secret?: unknown };
  try {
    doc = JSON.parse(stdout) as typeof doc;
  } catch {
    throw fail('answer is not JSON');
  }
  if (typeof doc.Username !== 'string' || typeof doc.Secret !== 'string') throw fail('answer lacks Username or Secret');
  if (doc.Username === '<token>') return { identityToken: doc.Secret };
  if (doc.Secret === '' && doc.Username === '') return undefined;
  return { username: doc.Username, password: doc.Secret };
}

/** `store`: hands a username and password (or `<token>` and an identity token) to the helper. */
export async function storeWithHelper(name: string, serverUrl: string, username: string, secret: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<void> {
  const { code, stdout, stderr } = await spawnHelper(name, 'store', JSON.stringify({ ServerURL: serverUrl, Username: username, Secret: secret }), env, timeoutMs);
  if (code !== 0) throw new CredentialHelperError(`docker-credential-${name} store for ${serverUrl}: exit code ${code}: ${(stderr || stdout).trim().slice(0, 300)}`, { code: 'CREDENTIAL_HELPER' });
}

/** `erase`: the helper forgets the server's credentials (none there is no error). */
export async function eraseWithHelper(name: string, serverUrl: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<void> {
  const { code, stdout, stderr } = await spawnHelper(name, 'erase', serverUrl, env, timeoutMs);
  if (code !== 0 && !NOT_FOUND.test(stdout) && !NOT_FOUND.test(stderr)) {
    throw new CredentialHelperError(`docker-credential-${name} erase for ${serverUrl}: exit code ${code}: ${(stderr || stdout).trim().slice(0, 300)}`, { code: 'CREDENTIAL_HELPER' });
  }
}
