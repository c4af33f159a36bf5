/**
 * `berth copy SRC DST`, `berth push LAYOUT DST`, `berth pull SRC LAYOUT`: one copy (the
 * library's copy()) between registries and OCI layout directories. An index is copied for this
 * machine's platform unless --all or --platform says otherwise (as skopeo does). Progress on
 * stderr (bars on a terminal, a line per blob otherwise); the result on stdout.
 */
import { Command } from 'commander';
import { copy, type CopyResult } from '../client/copy/copy.js';
import { createClient } from '../client/remote/registry.js';
import { formatReference, type Reference } from '../oci/reference.js';
import { parsePlatform } from '../oci/platform.js';
import { UsageError, runVerb } from './common/errors.js';
import { addClientOptions, addOutputOptions, clientOptions, layoutRef, parseCount, parseRef, remoteRef, type ClientFlags, type OutputFlags } from './common/options.js';
import { humanSize, printJson } from './common/output.js';
import { TransferView, progressMode } from './common/progress.js';

interface CopyFlags extends ClientFlags, OutputFlags {
  all?: boolean;
  platform?: string;
  jobs: number;
}

async function run(srcText: string, dstText: string, src: Reference, dst: Reference, flags: CopyFlags, signal: AbortSignal): Promise<void> {
  if (flags.all && flags.platform) throw new UsageError('--all and --platform exclude each other');
  if (flags.platform) {
    try {
      parsePlatform(flags.platform);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (src.kind === 'remote' && !src.tag && !src.digest) throw new UsageError(`${srcText} names no tag or digest`);
  const view = new TransferView(progressMode(flags.quiet || flags.format === 'json'));
  const client = createClient(clientOptions(flags));
  let result: CopyResult;
  try {
    result = await copy(src, dst, {
      client,
      all: flags.platform ? undefined : flags.all === true,
      platform: flags.platform,
      concurrency: flags.jobs,
      signal,
      ...view.copyHooks(),
    });
  } finally {
    view.stop();
    client.transport.close();
  }
  const destination = formatReference(dst.kind === 'remote' && !dst.tag && !dst.digest && result.tag ? { ...dst, tag: result.tag } : dst);
  if (flags.format === 'json') {
    printJson({
      source: formatReference(src),
      destination,
      digest: result.descriptor.digest.value,
      mediaType: result.descriptor.mediaType,
      size: result.descriptor.size,
      ...(result.tag !== undefined ? { tag: result.tag } : {}),
      copied: result.copied,
      skipped: result.skipped,
      mounted: result.mounted,
      bytes: result.bytes,
    });
  } else if (flags.quiet) {
    process.stdout.write(`${result.descriptor.digest.value}\n`);
  } else {
    const secs = view.summary().seconds;
    process.stdout.write(`${destination}: ${result.descriptor.digest.value} (${result.copied} copied, ${result.skipped} skipped, ${result.mounted} mounted; ${humanSize(result.bytes)} in ${secs.toFixed(1)} s)\n`);
  }
}

function copyOptions(cmd: Command): Command {
  addClientOptions(cmd);
  addOutputOptions(cmd);
  return cmd
    .option('-a, --all', 'copy every platform of an index (the index itself)')
    .option('--platform <OS/ARCH[/VARIANT]>', 'copy only this platform\'s image of an index')
    .option('-j, --jobs <N>', 'blobs transferred at once', parseCount('--jobs'), 4);
}

export function copyCommands(): Command[] {
  const copyCmd = copyOptions(new Command('copy'))
    .description('copy an image between registries and OCI layouts (only what the destination lacks)')
    .argument('<SRC>', 'HOST[:PORT]/REPO[:TAG|@DIGEST] or oci:DIR[:TAG]')
    .argument('<DST>', 'HOST[:PORT]/REPO[:TAG] or oci:DIR[:TAG]')
    .action(async (s: string, d: string, flags: CopyFlags) =>
      runVerb(`copy ${s} to ${d}`, async (signal) => run(s, d, parseRef(s, flags), parseRef(d, flags), flags, signal)));

  const pushCmd = copyOptions(new Command('push'))
    .description('copy an image from an OCI layout to a registry')
    .argument('<LAYOUT>', 'oci:DIR[:TAG] (or DIR[:TAG])')
    .argument('<DST>', 'HOST[:PORT]/REPO[:TAG]')
    .action(async (s: string, d: string, flags: CopyFlags) =>
      runVerb(`push ${s} to ${d}`, async (signal) => run(s, d, layoutRef(s, 'push'), remoteRef(d, flags, 'push'), flags, signal)));

  const pullCmd = copyOptions(new Command('pull'))
    .description('copy an image from a registry to an OCI layout')
    .argument('<SRC>', 'HOST[:PORT]/REPO[:TAG|@DIGEST]')
    .argument('<LAYOUT>', 'oci:DIR[:TAG] (or DIR[:TAG])')
    .action(async (s: string, d: string, flags: CopyFlags) =>
      runVerb(`pull ${s} to ${d}`, async (signal) => run(s, d, remoteRef(s, flags, 'pull'), layoutRef(d, 'pull'), flags, signal)));

  return [copyCmd, pushCmd, pullCmd];
}
