/**
 * `berth blob get REF@DIGEST [-o FILE]` and `berth blob put REPO FILE`: one blob, verified
 * against its digest while it streams, with progress. A downloaded file is written to a
 * temporary name beside FILE and renamed only once its digest matched; an upload the registry
 * already holds is skipped.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { describeFile } from '../client/artifact.js';
import { NotFoundError } from '../client/errors.js';
import { formatReference } from '../oci/reference.js';
import { UsageError, runVerb } from './common/errors.js';
import { addClientOptions, addOutputOptions, remoteRef, type ClientFlags, type OutputFlags } from './common/options.js';
import { printJson, shortDigest } from './common/output.js';
import { TransferView, progressMode } from './common/progress.js';
import { withSession } from './common/targets.js';

/** Counts bytes into the view as they pass. */
function counting(view: TransferView, id: string): Transform {
  let bytes = 0;
  return new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      view.update(id, bytes);
      cb(null, chunk);
    },
  });
}

async function get(text: string, flags: ClientFlags & OutputFlags & { output?: string }, signal: AbortSignal): Promise<void> {
  const ref = remoteRef(text, flags, 'blob get');
  if (!ref.digest) throw new UsageError(`${text}: name the blob by digest (HOST/REPO@DIGEST)`);
  const toStdout = flags.output === undefined || flags.output === '-';
  if (toStdout && process.stdout.isTTY) throw new UsageError('not writing a blob to a terminal: give -o FILE, or redirect stdout');
  const view = new TransferView(progressMode(flags.quiet));
  const digest = ref.digest;
  const label = `${shortDigest(digest.value)} blob`;
  await withSession(flags, async (s) => {
    const repo = s.repository(ref);
    const size = await repo.statBlob(digest, { signal });
    if (size === undefined) throw new NotFoundError(`blob ${digest.value} not found in ${ref.repository}`, { code: 'BLOB_UNKNOWN', info: { registry: ref.host, method: 'HEAD', url: `/v2/${ref.repository}/blobs/${digest.value}` }, status: 404 });
    const body: Readable = await repo.fetchBlob({ mediaType: 'application/octet-stream', digest, size }, { signal });
    view.start(digest.value, label, size);
    try {
      if (toStdout) {
        await pipeline(body, counting(view, digest.value), process.stdout, { signal, end: false });
      } else {
        const out = path.resolve(flags.output!);
        const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${randomBytes(6).toString('hex')}.tmp`);
        try {
          await pipeline(body, counting(view, digest.value), createWriteStream(tmp), { signal });
          await rename(tmp, out);
        } catch (err) {
          await rm(tmp, { force: true });
          throw err;
        }
      }
      view.finish(digest.value, 'copied', label, size);
    } finally {
      view.stop();
    }
  });
}

async function put(repoText: string, file: string, flags: ClientFlags & OutputFlags & { mediaType?: string }, signal: AbortSignal): Promise<void> {
  const ref = remoteRef(repoText, flags, 'blob put');
  if (ref.tag || ref.digest) throw new UsageError(`${repoText}: name the repository only (HOST/REPO)`);
  const json = flags.format === 'json';
  const view = new TransferView(progressMode(flags.quiet || json));
  try {
    const desc = await describeFile({ path: file, mediaType: flags.mediaType }, signal);
    const id = desc.digest.value;
    const label = `${shortDigest(id)} ${path.basename(file)}`;
    const existed = await withSession(flags, async (s) => {
      const repo = s.repository(ref);
      if ((await repo.statBlob(desc.digest, { signal })) !== undefined) {
        view.finish(id, 'skipped', label, desc.size, 'exists');
        return true;
      }
      view.start(id, label, desc.size);
      await repo.uploadBlob(() => createReadStream(file, { highWaterMark: 1 << 20 }).pipe(counting(view, id)), { digest: desc.digest, size: desc.size, signal });
      view.finish(id, 'copied', label, desc.size);
      return false;
    });
    view.stop();
    if (json) printJson({ reference: formatReference({ ...ref, digest: desc.digest }), digest: id, size: desc.size, mediaType: desc.mediaType, existed });
    else process.stdout.write(`${id}\n`);
  } finally {
    view.stop();
  }
}

export function blobCommand(): Command {
  const blob = new Command('blob').description('download or upload one blob');
  blob.addCommand(addOutputOptions(addClientOptions(new Command('get')), false)
    .description('download a blob, verified against its digest (to stdout, or -o FILE)')
    .argument('<REF@DIGEST>', 'HOST[:PORT]/REPO@DIGEST')
    .option('-o, --output <FILE>', 'write to FILE (written under a temporary name, renamed once verified)')
    .action(async (text: string, flags: ClientFlags & OutputFlags & { output?: string }) => runVerb(`blob get ${text}`, (signal) => get(text, flags, signal))));
  blob.addCommand(addOutputOptions(addClientOptions(new Command('put')))
    .description('upload a file as a blob; prints its digest')
    .argument('<REPO>', 'HOST[:PORT]/REPO')
    .argument('<FILE>', 'the file to upload')
    .option('--media-type <TYPE>', 'shown in --format json (blobs carry no type of their own)')
    .action(async (repoText: string, file: string, flags: ClientFlags & OutputFlags & { mediaType?: string }) => runVerb(`blob put ${file} to ${repoText}`, (signal) => put(repoText, file, flags, signal))));
  return blob;
}
