/**
 * The JSON bodies of Berth's /v2/_berth/ endpoints (docs/ui.md), defined once: the server's
 * handlers build them and the browser code reads them. Types only, importing nothing, so the
 * UI's own tsconfig (DOM lib, no Node) can use this file too.
 */

export interface Session {
  title: string;
  version: string;
  /** The access controller: null (none), 'htpasswd', 'token', 'silly', or a plugged-in controller's kind. */
  auth: string | null;
  authenticated: boolean;
  user: string | null;
  token: { realm: string; service: string } | null;
  deleteEnabled: boolean;
  readOnly: boolean;
}

/** One entry of the repositories page: a repository, a namespace (tree view), or both (`team` and `team/app`). */
export interface RepositoryEntry {
  /** The full name: a repository's name, or a namespace without its trailing slash. */
  name: string;
  repository: boolean;
  below: number;
}

export interface RepositoriesPage {
  view: 'flat' | 'tree';
  prefix: string;
  total: number;
  matched: number;
  entries: number;
  offset: number;
  n: number;
  repositories: RepositoryEntry[];
}

/** A platform of an index (or an image's own platform). */
export interface PlatformSummary {
  digest: string;
  mediaType: string;
  os: string | null;
  architecture: string | null;
  variant: string | null;
  size: number;
  created: string | null;
  missing?: true;
}

/**
 * What the UI shows of a manifest, computed once per digest (content is immutable). `size`: the
 * manifest, its config and layers; for an index also each child manifest and the children's
 * blobs, a blob shared by two platforms counted once. `created`: the config's (an index: its
 * newest platform's), else the `org.opencontainers.image.created` annotation.
 */
export interface ManifestSummary {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  created: string | null;
  platforms: PlatformSummary[];
  attestations: number;
  layerCount: number;
  subject: string | null;
}

export interface TagRow extends ManifestSummary {
  name: string;
  /** When the tag was last written: the modification time of its `current` link. */
  pushed: string | null;
  /** When the tag's manifest was last pulled from this repository (GET by tag or digest; docs/policy.md), or null when never. */
  pulled: string | null;
  /** How many times the tag's manifest was pulled from this repository. */
  pulls: number;
}

export interface RepositoryPage {
  name: string;
  tagCount: number;
  matched: number;
  offset: number;
  n: number;
  sort: 'name' | 'pushed' | 'pulled' | 'created' | 'size';
  order: 'asc' | 'desc';
  size: number;
  canDelete: boolean;
  tags: TagRow[];
}

export interface ConfigDetail {
  digest: string;
  mediaType: string;
  size: number;
  created: string | null;
  author: string | null;
  os: string | null;
  architecture: string | null;
  variant: string | null;
  env: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  workingDir: string | null;
  user: string | null;
  labels: Record<string, string>;
  exposedPorts: string[];
  volumes: string[];
  stopSignal: string | null;
  history: Array<{ created: string | null; createdBy: string | null; comment: string | null; emptyLayer: boolean }>;
}

export interface ImagePage extends ManifestSummary {
  name: string;
  reference: string;
  annotations: Record<string, string>;
  config: ConfigDetail | null;
  layers: Array<{ digest: string; mediaType: string; size: number; createdBy: string | null; urls?: string[] }>;
  attestationManifests: Array<{ digest: string; size: number; for: string | null }>;
  tags: string[];
  referrers: number;
  canDelete: boolean;
  manifest: unknown;
  /** When the manifest was last pushed to this repository, as recorded (docs/policy.md); null when not recorded. */
  pushed: string | null;
  /** When it was last pulled from this repository, or null when never. */
  pulled: string | null;
  pulls: number;
}

export type ReferrerKind = 'signature' | 'sbom' | 'attestation' | 'other';

export interface ReferrerNode {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  kind: ReferrerKind;
  size: number;
  created: string | null;
  annotations: Record<string, string>;
  /** An attestation manifest inside the subject's own index (buildx), rather than a referrer by `subject`. */
  inIndex?: true;
  /** Referrers of this referrer (a signature of an SBOM, …). */
  referrers: ReferrerNode[];
}

export interface ReferrersPage {
  name: string;
  subject: string;
  count: number;
  referrers: ReferrerNode[];
}
