// The JSON shapes of Berth's /v2/_berth/ endpoints as the UI reads them (docs/ui.md).

export interface Session {
  title: string;
  version: string;
  auth: 'htpasswd' | 'token' | 'silly' | null;
  authenticated: boolean;
  user: string | null;
  token: { realm: string; service: string } | null;
  deleteEnabled: boolean;
  readOnly: boolean;
}

export interface RepositoryEntry {
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

export interface Platform {
  digest: string;
  mediaType: string;
  os: string | null;
  architecture: string | null;
  variant: string | null;
  size: number;
  created: string | null;
  missing?: true;
}

export interface Summary {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  created: string | null;
  platforms: Platform[];
  attestations: number;
  layerCount: number;
  subject: string | null;
}

export interface TagRow extends Summary {
  name: string;
  pushed: string | null;
  pulled: string | null;
}

export interface RepositoryPage {
  name: string;
  tagCount: number;
  matched: number;
  offset: number;
  n: number;
  sort: 'name' | 'pushed' | 'created' | 'size';
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

export interface ImagePage extends Summary {
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
}

export interface ReferrerNode {
  digest: string;
  mediaType: string;
  artifactType: string | null;
  kind: 'signature' | 'sbom' | 'attestation' | 'other';
  size: number;
  created: string | null;
  annotations: Record<string, string>;
  inIndex?: true;
  referrers: ReferrerNode[];
}

export interface ReferrersPage {
  name: string;
  subject: string;
  count: number;
  referrers: ReferrerNode[];
}
