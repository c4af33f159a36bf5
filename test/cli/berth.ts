// Runs the built `berth` command (dist/cli.js, as the package's bin does) as a child process,
// asynchronously so that a registry in this process keeps answering, with HOME and the Docker
// config in a directory of its own and no credentials from the environment.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = path.join(REPO, 'dist', 'cli.js');

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A HOME of its own (Docker config under it), removed by cleanup(). */
export class CliHome {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-home-'));
  readonly dockerConfig = path.join(this.dir, '.docker');

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const base: NodeJS.ProcessEnv = {};
    for (const k of ['PATH', 'LANG', 'TZ', 'SystemRoot']) if (process.env[k]) base[k] = process.env[k];
    return { ...base, HOME: this.dir, DOCKER_CONFIG: this.dockerConfig, XDG_CONFIG_HOME: path.join(this.dir, '.config'), ...extra };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A running `berth`: its output so far, and its result once it exits (killed after `timeoutMs`). */
export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<Result>;
}

export function berthStart(args: string[], o: { env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Running {
  const child = spawn(process.execPath, [CLI, ...args], { env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const done = new Promise<Result>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  child.stdin!.on('error', () => {});
  child.stdin!.end(o.input ?? '');
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

export function berth(args: string[], o: { env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Promise<Result> {
  return berthStart(args, o).done;
}

/** berth, asserting exit code 0 (the message shows stderr otherwise). */
export async function berthOk(args: string[], o: { env: NodeJS.ProcessEnv; input?: string }): Promise<Result> {
  const r = await berth(args, o);
  if (r.code !== 0) throw new Error(`berth ${args.join(' ')} exited ${r.code ?? r.signal}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`);
  return r;
}
