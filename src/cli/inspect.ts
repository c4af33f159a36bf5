/**
 * `berth inspect REF [--raw | --config]`: a manifest's digest, media type and size; an index's
 * platforms; an image's platform, created, labels, config and layers with sizes; an artifact's
 * type and subject (library: client/inspect.ts). --raw prints the manifest's bytes as stored,
 * --config the image config's.
 */
import { Command } from 'commander';
import { fetchConfigBytes, fetchManifestBytes, inspect, type ManifestSummary } from '../client/inspect.js';
import { formatReference } from '../oci/reference.js';
import { UsageError, runVerb } from './common/errors.js';
import { addClientOptions, addOutputOptions, parseRef, versionOf, type ClientFlags, type OutputFlags } from './common/options.js';
import { humanSize, kindOf, printJson, table } from './common/output.js';
import { withSession } from './common/targets.js';

interface InspectFlags extends ClientFlags, OutputFlags {
  raw?: boolean;
  config?: boolean;
}

function render(ref: string, m: ManifestSummary): string {
  const lines: [string, string][] = [
    ['Reference', ref],
    ['Digest', m.digest],
    ['Media type', m.mediaType],
    ['Size', `${m.size} B`],
  ];
  if (m.artifactType) lines.push(['Artifact type', m.artifactType]);
  if (m.subject) lines.push(['Subject', m.subject]);
  if (m.platform) lines.push(['Platform', m.platform]);
  if (m.created) lines.push(['Created', m.created]);
  if (m.contentSize !== undefined) lines.push(['Content size', `${humanSize(m.contentSize)} (${m.contentSize} B)`]);
  for (const [k, v] of Object.entries(m.labels ?? {})) lines.push([`Label ${k}`, v]);
  for (const [k, v] of Object.entries(m.annotations ?? {})) lines.push([`Annotation ${k}`, v]);
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  let out = lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n') + '\n';
  if (m.manifests) {
    out += `\n${table(['PLATFORM', 'DIGEST', 'MEDIA TYPE', 'SIZE'], m.manifests.map((e) => [e.platform ?? e.artifactType ?? '-', e.digest, e.mediaType, `${e.size}`]))}`;
  }
  if (m.layers) {
    const rows = [...(m.config ? [{ ...m.config, kind: 'config' }] : []), ...m.layers.map((l) => ({ ...l, kind: kindOf(l.mediaType) }))];
    out += `\n${table(['', 'DIGEST', 'MEDIA TYPE', 'SIZE'], rows.map((r) => [r.kind, r.digest, r.mediaType, humanSize(r.size)]))}`;
  }
  return out;
}

export function inspectCommand(): Command {
  return addOutputOptions(addClientOptions(new Command('inspect')))
    .description('show a manifest: digest, media type, size, platforms of an index, layers, created, labels')
    .argument('<REF>', 'HOST[:PORT]/REPO:TAG|@DIGEST, or oci:DIR:TAG')
    .option('--raw', 'print the manifest as stored, byte for byte')
    .option('--config', 'print the image\'s config blob')
    .action(async (text: string, flags: InspectFlags) =>
      runVerb(`inspect ${text}`, async (signal) => {
        if (flags.raw && flags.config) throw new UsageError('--raw and --config exclude each other');
        const ref = parseRef(text, flags);
        const version = versionOf(ref, text);
        await withSession(flags, async (s) => {
          const target = s.target(ref);
          if (flags.raw || flags.config) {
            const desc = await target.resolve(version, { signal });
            const bytes = await fetchManifestBytes(target, desc, signal);
            const out = flags.raw ? bytes : await fetchConfigBytes(target, desc, bytes, signal);
            if (!out) throw new UsageError(`${text} is ${desc.mediaType}, which has no image config`);
            process.stdout.write(out);
            return;
          }
          const summary = await inspect(target, version, { signal });
          if (flags.format === 'json') printJson({ reference: formatReference(ref), ...summary });
          else if (flags.quiet) process.stdout.write(`${summary.digest}\n`);
          else process.stdout.write(render(formatReference(ref), summary));
        });
      }));
}
