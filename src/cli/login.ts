/**
 * `berth login HOST [-u USER] [--password-stdin]` and `berth logout HOST`: the Docker config
 * file, as docker writes it (library: client/login.ts, client/auth/login.ts). The password comes
 * from stdin with --password-stdin, else from a prompt that does not echo on a terminal; the
 * credentials are checked against the registry before they are saved.
 */
import { Command } from 'commander';
import { login, logout } from '../client/login.js';
import { UsageError, runVerb } from './common/errors.js';
import { addClientOptions, clientOptions, type ClientFlags } from './common/options.js';

interface LoginFlags extends ClientFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

async function readStdin(signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    signal.throwIfAborted();
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Asks on the terminal; with `hidden`, typed characters are not shown. */
function prompt(question: string, hidden: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    process.stderr.write(question);
    let answer = '';
    input.setRawMode?.(true);
    input.setEncoding('utf8');
    input.resume();
    const done = (err?: Error) => {
      input.setRawMode?.(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(answer);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(Object.assign(new Error('interrupted'), { name: 'AbortError' }));
        if (ch === '\u007f' || ch === '\b') {
          if (answer.length > 0) {
            answer = answer.slice(0, -1);
            if (!hidden) process.stderr.write('\b \b');
          }
          continue;
        }
        answer += ch;
        if (!hidden) process.stderr.write(ch);
      }
    };
    input.on('data', onData);
  });
}

export function loginCommands(): Command[] {
  const loginCmd = addClientOptions(new Command('login'))
    .description('check credentials against a registry and save them in the Docker config file')
    .argument('<HOST>', 'registry host[:port]')
    .option('-u, --username <USER>', 'user name (asked for on a terminal when not given)')
    .option('-p, --password <PASSWORD>', 'password (visible to other users of this machine: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(async (host: string, flags: LoginFlags) =>
      runVerb(`login ${host}`, async (signal) => {
        if (flags.password !== undefined && flags.passwordStdin) throw new UsageError('--password and --password-stdin exclude each other');
        const tty = process.stdin.isTTY === true;
        let username = flags.username;
        if (username === undefined) {
          if (!tty || flags.passwordStdin) throw new UsageError('no user name: give -u USER');
          username = (await prompt('Username: ', false)).trim();
        }
        if (!username) throw new UsageError('the user name is empty');
        let password = flags.password;
        if (flags.password !== undefined) process.stderr.write('berth: warning: a password on the command line can be seen by other users; use --password-stdin\n');
        if (flags.passwordStdin) password = (await readStdin(signal)).replace(/\r?\n$/, '');
        else if (password === undefined) {
          if (!tty) throw new UsageError('no password: give --password-stdin, or run on a terminal to be asked');
          password = await prompt('Password: ', true);
        }
        if (!password) throw new UsageError('the password is empty');
        const saved = await login(host, { username, password }, { client: clientOptions(flags), signal });
        const where = saved.helper ? `docker-credential-${saved.helper} (listed in ${saved.file})` : saved.file;
        process.stdout.write(`Login Succeeded: credentials for ${host} saved in ${where}\n`);
      }));

  const logoutCmd = new Command('logout')
    .description('remove a registry\'s credentials from the Docker config file')
    .argument('<HOST>', 'registry host[:port]')
    .action(async (host: string) =>
      runVerb(`logout ${host}`, async () => {
        const r = await logout(host);
        process.stdout.write(r.removed || r.helper ? `Removed login credentials for ${host} from ${r.file}\n` : `Not logged in to ${host} (${r.file})\n`);
      }));

  return [loginCmd, logoutCmd];
}
