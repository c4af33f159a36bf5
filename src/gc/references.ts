import { tryParseDigest, type Digest } from '../oci/digest.js';

/** What the collector needs from a stored manifest: what it keeps alive, and what it refers to. */
export interface ManifestRefs {
  /** Config, layers and other blobs (anything that is not a child manifest). */
  blobs: Digest[];
  /** Manifests an index or manifest list names. */
  children: Digest[];
  /** The manifest this one refers to (`subject`): a referrer lives while its subject does. */
  subject?: Digest;
}

/** A manifest whose content cannot be read as any format the collector knows. */
export class UnreadableManifestError extends Error {}

/**
 * Reads references out of a manifest as stored, whatever wrote it: Docker schema 2 and OCI image
 * manifests (config, layers), manifest lists and OCI indexes (manifests), OCI artifact manifests
 * (blobs), and Docker schema 1 (fsLayers, which Distribution may have stored). The push-time
 * validation in storage/manifests is deliberately not used: content Berth would refuse today
 * still holds its references, and missing one would sweep live data.
 */
export function manifestReferences(content: Buffer): ManifestRefs {
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString('utf8'));
  } catch {
    throw new UnreadableManifestError('not JSON');
  }
  if (!isObject(doc)) throw new UnreadableManifestError('not a JSON object');
  const blobs: Digest[] = [];
  const children: Digest[] = [];
  if (doc.config !== undefined) blobs.push(descriptorDigest(doc.config, 'config'));
  for (const [field, into] of [['layers', blobs], ['blobs', blobs], ['manifests', children]] as const) {
    const list = doc[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new UnreadableManifestError(`${field} is not a list`);
    list.forEach((d, i) => into.push(descriptorDigest(d, `${field}[${i}]`)));
  }
  if (doc.schemaVersion === 1) {
    const layers = doc.fsLayers;
    if (!Array.isArray(layers)) throw new UnreadableManifestError('schema 1 manifest without fsLayers');
    for (const layer of layers) {
      const d = isObject(layer) && typeof layer.blobSum === 'string' ? tryParseDigest(layer.blobSum) : undefined;
      if (!d) throw new UnreadableManifestError('schema 1 fsLayers entry without a valid blobSum');
      blobs.push(d);
    }
  }
  const subject = doc.subject === undefined || doc.subject === null ? undefined : descriptorDigest(doc.subject, 'subject');
  return { blobs, children, subject };
}

function descriptorDigest(v: unknown, where: string): Digest {
  const d = isObject(v) && typeof v.digest === 'string' ? tryParseDigest(v.digest) : undefined;
  if (!d) throw new UnreadableManifestError(`${where} has no valid digest`);
  return d;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
