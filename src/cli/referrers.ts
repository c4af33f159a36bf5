/**
 * `berth referrers REF [--artifact-type T]`: the tree of artifacts that refer to a manifest
 * (signatures, SBOMs, attestations, and what refers to those), through the referrers API or the
 * fallback tag (library: client/referrer-tree.ts).
 */
import { Command } from 'commander';
import type { ReferrerNode } from '../client/referrer-tree.js';
import { referrerTree } from '../client/referrer-tree.js';
import { formatReference } from '../oci/reference.js';
import { runVerb } from './common/errors.js';
import { addClientOptions, addOutputOptions, parseCount, remoteRef, versionOf, type ClientFlags, type OutputFlags } from './common/options.js';
import { humanSize, printJson, printLines } from './common/output.js';
import { withSession } from './common/targets.js';

interface ReferrersFlags extends ClientFlags, OutputFlags {
  artifactType?: string;
  depth: number;
}

interface JsonNode {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  referrers: JsonNode[];
}

function toJson(n: ReferrerNode): JsonNode {
  const d = n.descriptor;
  return {
    digest: d.digest.value,
    mediaType: d.mediaType,
    size: d.size,
    ...(d.artifactType ? { artifactType: d.artifactType } : {}),
    ...(d.annotations ? { annotations: d.annotations } : {}),
    referrers: n.referrers.map(toJson),
  };
}

function drawTree(nodes: ReferrerNode[], indent = ''): string[] {
  return nodes.flatMap((n, i) => {
    const last = i === nodes.length - 1;
    const d = n.descriptor;
    const line = `${indent}${last ? '└── ' : '├── '}${d.artifactType ?? d.mediaType}  ${d.digest.value}  ${humanSize(d.size)}`;
    return [line, ...drawTree(n.referrers, `${indent}${last ? '    ' : '│   '}`)];
  });
}

function allDigests(nodes: ReferrerNode[]): string[] {
  return nodes.flatMap((n) => [n.descriptor.digest.value, ...allDigests(n.referrers)]);
}

export function referrersCommand(): Command {
  return addOutputOptions(addClientOptions(new Command('referrers')))
    .description('show the tree of artifacts (signatures, SBOMs, …) that refer to a manifest')
    .argument('<REF>', 'HOST[:PORT]/REPO:TAG|@DIGEST')
    .option('--artifact-type <TYPE>', 'only direct referrers of this artifact type')
    .option('--depth <N>', 'levels of referrers of referrers to follow', parseCount('--depth'), 8)
    .action(async (text: string, flags: ReferrersFlags) =>
      runVerb(`referrers ${text}`, async (signal) => {
        const ref = remoteRef(text, flags, 'referrers');
        const { subject, tree } = await withSession(flags, async (s) => {
          const repo = s.repository(ref);
          const desc = await repo.resolve(versionOf(ref, text), { signal });
          return { subject: desc, tree: await referrerTree(repo, desc, { artifactType: flags.artifactType, depth: flags.depth, signal }) };
        });
        if (flags.format === 'json') {
          printJson({ reference: formatReference(ref), digest: subject.digest.value, mediaType: subject.mediaType, size: subject.size, referrers: tree.map(toJson) });
        } else if (flags.quiet) {
          printLines(allDigests(tree));
        } else {
          printLines([`${formatReference({ ...ref, tag: undefined, digest: subject.digest })}`, ...drawTree(tree)]);
        }
      }));
}
