/**
 * The referrers of a manifest, and theirs in turn (a signature of an SBOM of an image): what
 * `berth referrers` draws. Each level is one referrers request (the API, or the fallback tag on
 * registries without it; remote/referrers.ts). A node already shown higher up is not followed
 * again, and the walk stops at `depth` levels.
 */
import type { Descriptor } from '../oci/descriptor.js';
import type { ReferrerLister } from './content/storage.js';

export interface ReferrerNode {
  descriptor: Descriptor;
  referrers: ReferrerNode[];
}

export interface ReferrerTreeOptions {
  /** Only direct referrers of this artifact type (what refers to those is listed whole). */
  artifactType?: string;
  /** Levels to follow (default 8). */
  depth?: number;
  signal?: AbortSignal;
}

export async function referrerTree(target: ReferrerLister, subject: Descriptor, o: ReferrerTreeOptions = {}): Promise<ReferrerNode[]> {
  const seen = new Set<string>([subject.digest.value]);
  const walk = async (desc: Descriptor, level: number, artifactType?: string): Promise<ReferrerNode[]> => {
    if (level >= (o.depth ?? 8)) return [];
    const list = (await target.referrers(desc, { artifactType, signal: o.signal })).filter((d) => !seen.has(d.digest.value));
    for (const d of list) seen.add(d.digest.value);
    return Promise.all(list.map(async (d) => ({ descriptor: d, referrers: await walk(d, level + 1) })));
  };
  return walk(subject, 0, o.artifactType);
}
