/**
 * What every client verb shares: the options that reach a registry (default registry, plain
 * http, TLS), output options, and reading a reference the way the library does, with one
 * addition: a plain `REPO[:TAG|@DIGEST]` names a repository of `--registry` (or
 * $BERTH_REGISTRY).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ClientOptions } from '../../client/remote/registry.js';
import { parseReference, ReferenceError, type LayoutReference, type Reference, type RemoteReference } from '../../oci/reference.js';
import { UsageError } from './errors.js';

export interface ClientFlags {
  registry?: string;
  plainHttp?: boolean;
  insecure?: boolean;
  caFile?: string;
}

export interface OutputFlags {
  format: 'text' | 'json';
  quiet?: boolean;
}

export function addClientOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--registry <HOST[:PORT]>', 'the registry of references without a host').env('BERTH_REGISTRY'))
    .option('--plain-http', 'talk plain http to every registry (default: loopback hosts only)')
    .option('--insecure', 'accept any TLS certificate (testing only: anyone on the path can read and change the traffic)')
    .option('--ca-file <FILE>', 'also trust the certificates (PEM) in FILE');
}

export function addOutputOptions(cmd: Command, json = true): Command {
  if (json) cmd.addOption(new Option('--format <FORMAT>', 'output format').choices(['text', 'json']).default('text'));
  return cmd.option('-q, --quiet', 'print only what a script needs');
}

export function clientOptions(flags: ClientFlags): ClientOptions {
  let ca: Buffer | undefined;
  if (flags.caFile) {
    try {
      ca = readFileSync(flags.caFile);
    } catch (err) {
      throw new UsageError(`--ca-file ${flags.caFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  }
  return {
    plainHttp: flags.plainHttp ? true : undefined,
    tls: { insecureSkipVerify: flags.insecure ?? false, ...(ca ? { ca } : {}) },
    userAgent: 'berth-cli',
  };
}

/** A reference in the library's grammar, or `REPO[:TAG|@DIGEST]` of the default registry. */
export function parseRef(text: string, flags: ClientFlags): Reference {
  try {
    return parseReference(text);
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    const registry = flags.registry;
    if (registry && !text.startsWith('oci:') && !text.startsWith('docker://')) {
      try {
        return parseReference(`${registry}/${text}`);
      } catch {
        // report the reference as written
      }
    }
    const hint = registry ? '' : ' (or give --registry / BERTH_REGISTRY for references without a host)';
    throw new UsageError(`${err.message}${hint}`);
  }
}

export function remoteRef(text: string, flags: ClientFlags, verb: string): RemoteReference {
  const ref = parseRef(text, flags);
  if (ref.kind !== 'remote') throw new UsageError(`${verb} works on a registry, not on ${text}`);
  return ref;
}

/**
 * `oci:DIR[:TAG]`, or a bare directory path taken as one. Text that reads as a registry
 * reference is refused rather than taken for a directory named like a host.
 */
export function layoutRef(text: string, verb: string): LayoutReference {
  if (!text.startsWith('oci:')) {
    let remote = false;
    try {
      remote = parseReference(text).kind === 'remote';
    } catch {
      // not a registry reference: a directory
    }
    if (remote) throw new UsageError(`${verb} takes an OCI layout there, and ${text} names a registry (write oci:DIR[:TAG] for a directory, or use berth copy)`);
  }
  return parseReference(text.startsWith('oci:') ? text : `oci:${text}`) as LayoutReference;
}

/** The tag or digest of a reference, required. */
export function versionOf(ref: Reference, text: string): string {
  const v = ref.digest?.value ?? ref.tag;
  if (v === undefined) throw new UsageError(`${text} names no tag or digest (write ${ref.kind === 'layout' ? 'oci:DIR:TAG' : 'HOST/REPO:TAG or HOST/REPO@DIGEST'})`);
  return v;
}

export function parseCount(name: string) {
  return (value: string): number => {
    const n = Number(value);
    // commander reports this error as bad usage (exit 2), naming the option.
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError(`${name} takes a whole number from 1 to 64.`);
    return n;
  };
}
