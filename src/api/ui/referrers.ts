import { parseDigest } from '../../oci/digest.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { RegistryError } from '../../oci/errors.js';
import { compareBytes } from '../../storage/listing/sorted.js';
import { type Context, sendJson } from '../context.js';
import { stringsOf } from './image.js';
import { mapLimit } from '../../storage/map-limit.js';
import { createdTime, descriptors, isAttestationEntry } from './summaries.js';
import type { ReferrerKind, ReferrerNode, ReferrersPage } from './shapes.js';
import type { UiState } from './state.js';

/** How deep the tree is followed (a signature of an attestation of an SBOM is three levels). */
const MAX_DEPTH = 8;

/**
 * GET /v2/_berth/referrers/<name>/<digest>: the subject's referrers as a tree: each referrer
 * with its kind (by `artifactType`) and its own referrers, read in one pass over the
 * repository's manifests (parsed manifests are kept per digest). For an index, the attestation
 * manifests buildx puts inside it are listed too, marked `inIndex`.
 */
export async function referrerTree(ctx: Context, ui: UiState, name: string, reference: string): Promise<void> {
  const repo = ctx.registry.repository(name);
  const subject = parseDigest(reference);
  if (!(await repo.manifests.has(subject))) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest: subject.value });
  const bySubject = new Map<string, Descriptor[]>();
  const revisions = await repo.manifests.revisions();
  const infos = await mapLimit(revisions, 32, async (digest) => ({ digest, info: await repo.manifests.info(digest) }));
  for (const { digest, info } of infos) {
    if (!info?.subject) continue;
    const key = info.subject.digest.value;
    let list = bySubject.get(key);
    if (!list) bySubject.set(key, (list = []));
    list.push({ mediaType: info.mediaType, digest, size: info.size, artifactType: info.artifactType, annotations: info.annotations });
  }
  const seen = new Set<string>([subject.value]);
  const build = (of: string, depth: number): ReferrerNode[] => {
    const found = (bySubject.get(of) ?? []).filter((d) => !seen.has(d.digest.value)).sort((a, b) => compareBytes(a.digest.value, b.digest.value));
    for (const d of found) seen.add(d.digest.value);
    return found.map((d) => ({
      digest: d.digest.value,
      mediaType: d.mediaType,
      artifactType: d.artifactType ?? null,
      kind: kindOf(d.artifactType ?? ''),
      size: d.size,
      created: createdTime(d.annotations?.['org.opencontainers.image.created']),
      annotations: d.annotations ?? {},
      referrers: depth < MAX_DEPTH ? build(d.digest.value, depth + 1) : [],
    }));
  };
  const tree = build(subject.value, 1);
  const m = await ui.summaries.manifest(subject);
  for (const d of descriptors(m?.doc.manifests).filter((x) => isAttestationEntry(x.raw))) {
    tree.push({ digest: d.digest.value, mediaType: d.mediaType, artifactType: null, kind: 'attestation', size: d.size, created: null, annotations: stringsOf(d.raw.annotations), inIndex: true, referrers: build(d.digest.value, 2) });
  }
  const body: ReferrersPage = { name, subject: subject.value, count: countNodes(tree), referrers: tree };
  sendJson(ctx, 200, body, { 'Cache-Control': 'no-store' });
}

function countNodes(nodes: readonly ReferrerNode[]): number {
  return nodes.reduce((n, node) => n + 1 + countNodes(node.referrers), 0);
}

/** What an artifact type says the artifact is: the media types cosign, notation, syft, trivy and buildx write. */
export function kindOf(artifactType: string): ReferrerKind {
  const t = artifactType.toLowerCase();
  if (/signature|\.sig\b|cosign\.artifact\.sig|notary|notation/.test(t)) return 'signature';
  if (/spdx|cyclonedx|sbom|syft/.test(t)) return 'sbom';
  if (/in-toto|intoto|dsse|attestation|provenance|slsa|vex|sarif|vuln/.test(t)) return 'attestation';
  return 'other';
}
