import type { Digest } from '../oci/digest.js';

/**
 * Distribution's storage layout, byte for byte, so that a root written by either registry is
 * served by the other. Every path Berth touches is built here.
 *
 *   /docker/registry/v2/
 *     blobs/<alg>/<first two hex>/<hex>/data                  content, addressed by digest
 *     repositories/<name>/
 *       _layers/<alg>/<hex>/link                              blob linked into the repository
 *       _manifests/revisions/<alg>/<hex>/link                 manifest revision present in the repository
 *       _manifests/tags/<tag>/current/link                    the digest the tag points at
 *       _manifests/tags/<tag>/index/<alg>/<hex>/link          every digest the tag ever pointed at
 *       _uploads/<id>/data                                    bytes received so far
 *       _uploads/<id>/startedat                               RFC 3339 start time
 *       _uploads/<id>/hashstates/<alg>/<offset>               (Distribution's resumable hash state)
 *
 * A link file holds the digest string (e.g. "sha256:…") and nothing else. Repository names may
 * contain slashes, so a repository directory is recognised by its `_layers`, `_manifests` or
 * `_uploads` child; no repository path component starts with "_".
 */
export const ROOT = '/docker/registry/v2';
export const BLOBS_ROOT = `${ROOT}/blobs`;
export const REPOSITORIES_ROOT = `${ROOT}/repositories`;
/**
 * Berth's own files beside Distribution's layout: neither Distribution's catalog nor its garbage
 * collector looks outside blobs/ and repositories/, so they are ignored there.
 */
export const BERTH_ROOT = `${ROOT}/_berth`;
/** The repository names the last catalog walk on an object store found (Registry). */
export const CATALOG_SNAPSHOT = `${BERTH_ROOT}/catalog.json`;
/** Where saved tag lists live, one folder per repository. */
export const SAVED_TAGS_ROOT = `${BERTH_ROOT}/tags`;
const SAVED_TAGS_FILE = '/_tags.json';
/** A repository's tags as last listed on an object store ("_" keeps it apart from nested names). */
export function savedTagsPath(name: string): string {
  return `${SAVED_TAGS_ROOT}/${name}${SAVED_TAGS_FILE}`;
}
/** The repository whose saved tag list `path` is, or undefined for any other path. */
export function savedTagsOwner(path: string): string | undefined {
  const start = SAVED_TAGS_ROOT.length + 1;
  return path.startsWith(`${SAVED_TAGS_ROOT}/`) && path.endsWith(SAVED_TAGS_FILE) && path.length > start + SAVED_TAGS_FILE.length
    ? path.slice(start, -SAVED_TAGS_FILE.length)
    : undefined;
}

/** Where pull and push records live, one file per repository (src/policy/records/storage-records.ts). */
export const RECORDS_ROOT = `${BERTH_ROOT}/records`;
/** A repository's pull and push records ("_" keeps the file apart from nested names). */
export function recordsPath(name: string): string {
  return `${RECORDS_ROOT}/${name}/_records.json`;
}

export function blobDir(d: Digest): string {
  return `${BLOBS_ROOT}/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`;
}
export function blobDataPath(d: Digest): string {
  return `${blobDir(d)}/data`;
}

/**
 * A path below repositories/ split where its repository's own folder begins (`_layers`,
 * `_manifests`, `_uploads`: the first component starting with "_", which no name component does):
 * the repository name, that folder, and the components below it. Undefined for a path with no
 * such folder (a namespace, a repository's directory itself) or outside repositories/.
 */
export function repositoryFolderOf(path: string): { name: string; folder: string; rest: string[] } | undefined {
  if (!path.startsWith(`${REPOSITORIES_ROOT}/`)) return undefined;
  const parts = path.slice(REPOSITORIES_ROOT.length + 1).split('/');
  const at = parts.findIndex((p) => p.startsWith('_'));
  if (at < 1) return undefined;
  return { name: parts.slice(0, at).join('/'), folder: parts[at]!, rest: parts.slice(at + 1) };
}

export function repositoryPath(name: string): string {
  return `${REPOSITORIES_ROOT}/${name}`;
}

export function layersDir(name: string): string {
  return `${repositoryPath(name)}/_layers`;
}
export function layerLinkPath(name: string, d: Digest): string {
  return `${layersDir(name)}/${d.algorithm}/${d.hex}/link`;
}

export function manifestsDir(name: string): string {
  return `${repositoryPath(name)}/_manifests`;
}
export function revisionsDir(name: string): string {
  return `${manifestsDir(name)}/revisions`;
}
export function revisionDir(name: string, d: Digest): string {
  return `${revisionsDir(name)}/${d.algorithm}/${d.hex}`;
}
export function revisionLinkPath(name: string, d: Digest): string {
  return `${revisionDir(name, d)}/link`;
}

export function tagsDir(name: string): string {
  return `${manifestsDir(name)}/tags`;
}
export function tagDir(name: string, tag: string): string {
  return `${tagsDir(name)}/${tag}`;
}
export function tagCurrentLinkPath(name: string, tag: string): string {
  return `${tagDir(name, tag)}/current/link`;
}
export function tagIndexLinkPath(name: string, tag: string, d: Digest): string {
  return `${tagDir(name, tag)}/index/${d.algorithm}/${d.hex}/link`;
}

export function uploadsDir(name: string): string {
  return `${repositoryPath(name)}/_uploads`;
}
export function uploadDir(name: string, id: string): string {
  return `${uploadsDir(name)}/${id}`;
}
export function uploadDataPath(name: string, id: string): string {
  return `${uploadDir(name, id)}/data`;
}
export function uploadStartedAtPath(name: string, id: string): string {
  return `${uploadDir(name, id)}/startedat`;
}
export function uploadHashStatesDir(name: string, id: string): string {
  return `${uploadDir(name, id)}/hashstates`;
}

/**
 * What a path in the layout is, read back from the path alone (the inverse of the builders
 * above), for applying a change to it (src/storage/changes.ts). A path inside an object names
 * that object: `…/<hex>/link` is the revision `<hex>`, `…/tags/<tag>/index/…` the tag's history.
 */
export type LayoutPath =
  | { kind: 'blob'; digest: string }
  | { kind: 'layer-link'; name: string; digest: string }
  | { kind: 'layer-links'; name: string }
  | { kind: 'revision'; name: string; digest: string }
  | { kind: 'revisions'; name: string }
  | { kind: 'tag'; name: string; tag: string; part: 'whole' | 'current' | 'index' }
  | { kind: 'tags'; name: string }
  /** `_manifests` itself. */
  | { kind: 'manifests'; name: string }
  | { kind: 'uploads'; name: string }
  /** A directory below repositories/ outside any repository's own folders: a repository's own directory, or a namespace. */
  | { kind: 'names'; prefix: string }
  /** repositories/ itself or one of its ancestors: every repository. */
  | { kind: 'all-repositories' }
  | { kind: 'other' };

export function layoutPathOf(path: string): LayoutPath {
  if (REPOSITORIES_ROOT === path || REPOSITORIES_ROOT.startsWith(`${path}/`)) return { kind: 'all-repositories' };
  if (path.startsWith(`${BLOBS_ROOT}/`)) {
    const [algorithm, , hex] = path.slice(BLOBS_ROOT.length + 1).split('/');
    return algorithm && hex ? { kind: 'blob', digest: `${algorithm}:${hex}` } : { kind: 'other' };
  }
  if (!path.startsWith(`${REPOSITORIES_ROOT}/`)) return { kind: 'other' };
  const at = repositoryFolderOf(path);
  if (!at) return { kind: 'names', prefix: path.slice(REPOSITORIES_ROOT.length + 1) };
  const { name, folder, rest } = at;
  if (folder === '_layers') return rest.length >= 2 ? { kind: 'layer-link', name, digest: `${rest[0]}:${rest[1]}` } : { kind: 'layer-links', name };
  if (folder === '_uploads') return { kind: 'uploads', name };
  if (folder !== '_manifests') return { kind: 'other' };
  const [section, a, b] = rest;
  if (section === undefined) return { kind: 'manifests', name };
  if (section === 'revisions') return b !== undefined ? { kind: 'revision', name, digest: `${a}:${b}` } : { kind: 'revisions', name };
  if (section !== 'tags') return { kind: 'other' };
  if (a === undefined) return { kind: 'tags', name };
  if (b === undefined) return { kind: 'tag', name, tag: a, part: 'whole' };
  return b === 'current' || b === 'index' ? { kind: 'tag', name, tag: a, part: b } : { kind: 'other' };
}
