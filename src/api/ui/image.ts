import { isDigestLike, parseDigest, type Digest } from '../../oci/digest.js';
import { isObject } from '../../oci/descriptor.js';
import { RegistryError } from '../../oci/errors.js';
import { isValidTag } from '../../oci/names.js';
import { findReferrers } from '../../storage/referrers.js';
import type { Repository } from '../../storage/repository.js';
import { type Context, sendJson } from '../context.js';
import { createdTime, descriptors, isAttestationEntry, str } from './summaries.js';
import type { ConfigDetail, ImagePage } from './shapes.js';
import type { UiState } from './state.js';
import { isoOrNull, NO_RECORDS } from './repository.js';

/**
 * GET /v2/_berth/images/<name>/<reference>: a manifest by tag or digest with its summary, its
 * content, its config's fields and its layers (each with the build step that made it, from the
 * config's history), for an index every platform; the tags pointing at it and how many
 * referrers it has.
 */
export async function imagePage(ctx: Context, ui: UiState, name: string, reference: string): Promise<void> {
  const repo = ctx.registry.repository(name);
  const digest = await resolve(repo, reference);
  const [m, summary] = await Promise.all([ui.summaries.manifest(digest), ui.summaries.get(digest)]);
  if (!m || !summary) throw new RegistryError('MANIFEST_UNKNOWN', undefined, { digest: digest.value });
  const { doc } = m;
  const config = await ui.summaries.config(doc.config);
  const configDescriptor = descriptors([doc.config])[0];
  const history = config ? historyOf(config) : [];
  const built = history.filter((h) => !h.emptyLayer);
  const layers = descriptors(doc.layers).map((d, i) => ({
    digest: d.digest.value,
    mediaType: d.mediaType,
    size: d.size,
    createdBy: built.length === descriptors(doc.layers).length ? built[i]!.createdBy : null,
    ...(Array.isArray(d.raw.urls) ? { urls: d.raw.urls } : {}),
  }));
  const attestationManifests = descriptors(doc.manifests)
    .filter((d) => isAttestationEntry(d.raw))
    .map((d) => ({ digest: d.digest.value, size: d.size, for: str(stringsOf(d.raw.annotations)['vnd.docker.reference.digest']) }));
  const [tags, referrers, canDelete, records] = await Promise.all([
    repo.tags.lookup(digest),
    findReferrers(repo.manifests, digest),
    ui.canDelete(ctx, name),
    ctx.registry.records?.read(name) ?? NO_RECORDS,
  ]);
  const record = records.get(digest.value);
  const body: ImagePage = {
    name,
    reference,
    ...summary,
    annotations: stringsOf(doc.annotations),
    config: config && configDescriptor ? configDetail(configDescriptor.digest, configDescriptor.mediaType, configDescriptor.size, config, history) : null,
    layers,
    attestationManifests,
    tags,
    referrers: referrers.length,
    canDelete,
    manifest: doc,
    pushed: isoOrNull(record?.pushed),
    pulled: isoOrNull(record?.pulled),
    pulls: record?.pulls ?? 0,
  };
  sendJson(ctx, 200, body, { 'Cache-Control': 'no-store' });
}

/** A digest held by the repository, or the digest a tag points at; MANIFEST_UNKNOWN otherwise. */
async function resolve(repo: Repository, reference: string): Promise<Digest> {
  let digest: Digest | undefined;
  if (isDigestLike(reference)) digest = parseDigest(reference);
  else if (!isValidTag(reference)) throw new RegistryError('TAG_INVALID', 'invalid tag', { tag: reference });
  else digest = await repo.tags.resolve(reference);
  if (!digest || !(await repo.manifests.has(digest))) throw new RegistryError('MANIFEST_UNKNOWN', undefined, isDigestLike(reference) ? { digest: reference } : { tag: reference });
  return digest;
}

function configDetail(digest: Digest, mediaType: string, size: number, cfg: Record<string, unknown>, history: ConfigDetail['history']): ConfigDetail {
  const c = isObject(cfg.config) ? cfg.config : {};
  return {
    digest: digest.value,
    mediaType,
    size,
    created: createdTime(cfg.created),
    author: str(cfg.author),
    os: str(cfg.os),
    architecture: str(cfg.architecture),
    variant: str(cfg.variant),
    env: strings(c.Env) ?? [],
    entrypoint: strings(c.Entrypoint),
    cmd: strings(c.Cmd),
    workingDir: str(c.WorkingDir),
    user: str(c.User),
    labels: stringsOf(c.Labels),
    exposedPorts: isObject(c.ExposedPorts) ? Object.keys(c.ExposedPorts) : [],
    volumes: isObject(c.Volumes) ? Object.keys(c.Volumes) : [],
    stopSignal: str(c.StopSignal),
    history,
  };
}

function historyOf(cfg: Record<string, unknown>): ConfigDetail['history'] {
  if (!Array.isArray(cfg.history)) return [];
  return cfg.history.filter(isObject).map((h) => ({ created: createdTime(h.created), createdBy: str(h.created_by), comment: str(h.comment), emptyLayer: h.empty_layer === true }));
}

/** The string-valued entries of a JSON object (annotations, labels). */
export function stringsOf(v: unknown): Record<string, string> {
  return isObject(v) ? (Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<string, string>) : {};
}

function strings(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
}
