/**
 * `berth attach REF --artifact-type T FILE[:MEDIATYPE]...`: pushes an artifact whose subject is
 * the manifest REF names, as `oras attach` does (library: client/artifact.ts). Prints the
 * artifact's digest.
 */
import { Command } from 'commander';
import { pushArtifact, type ArtifactFile } from '../client/artifact.js';
import { formatReference } from '../oci/reference.js';
import { UsageError, runVerb } from './common/errors.js';
import { addClientOptions, addOutputOptions, remoteRef, versionOf, type ClientFlags, type OutputFlags } from './common/options.js';
import { humanSize, printJson, shortDigest } from './common/output.js';
import { progressMode } from './common/progress.js';
import { withSession } from './common/targets.js';

interface AttachFlags extends ClientFlags, OutputFlags {
  artifactType: string;
  annotation: string[];
}

const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/;

/** `FILE` or `FILE:TYPE/SUBTYPE` (the part after the last colon, when it is a media type). */
function parseFile(text: string): ArtifactFile {
  const colon = text.lastIndexOf(':');
  if (colon > 0 && MEDIA_TYPE.test(text.slice(colon + 1))) return { path: text.slice(0, colon), mediaType: text.slice(colon + 1) };
  return { path: text };
}

function parseAnnotations(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UsageError(`--annotation ${JSON.stringify(a)}: write KEY=VALUE`);
    out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

export function attachCommand(): Command {
  return addOutputOptions(addClientOptions(new Command('attach')))
    .description('push an artifact (signature, SBOM, …) whose subject is REF')
    .argument('<REF>', 'HOST[:PORT]/REPO:TAG|@DIGEST: the subject')
    .argument('[FILE...]', 'files to attach, each FILE or FILE:MEDIATYPE (default application/octet-stream)')
    .requiredOption('--artifact-type <TYPE>', 'the artifact\'s type, e.g. application/spdx+json')
    .option('--annotation <KEY=VALUE>', 'a manifest annotation (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .action(async (text: string, files: string[], flags: AttachFlags) =>
      runVerb(`attach to ${text}`, async (signal) => {
        if (!MEDIA_TYPE.test(flags.artifactType)) throw new UsageError(`--artifact-type ${JSON.stringify(flags.artifactType)} is not a media type (type/subtype)`);
        const ref = remoteRef(text, flags, 'attach');
        const annotations = parseAnnotations(flags.annotation);
        const lines = progressMode(flags.quiet || flags.format === 'json') !== 'quiet';
        const desc = await withSession(flags, async (s) => {
          const repo = s.repository(ref);
          const subject = await repo.resolve(versionOf(ref, text), { signal });
          return pushArtifact(repo, {
            artifactType: flags.artifactType,
            files: files.map(parseFile),
            subject,
            annotations,
            signal,
            onFile: (f, d, status) => {
              if (lines) process.stderr.write(`${status === 'pushed' ? 'copied ' : 'skipped'} ${shortDigest(d.digest.value)} ${f.path}  ${humanSize(d.size)}\n`);
            },
          });
        });
        const at = formatReference({ ...ref, tag: undefined, digest: desc.digest });
        if (flags.format === 'json') printJson({ subject: formatReference(ref), reference: at, digest: desc.digest.value, mediaType: desc.mediaType, size: desc.size, artifactType: flags.artifactType });
        else process.stdout.write(`${flags.quiet ? desc.digest.value : at}\n`);
      }));
}
