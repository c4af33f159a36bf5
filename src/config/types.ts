/**
 * The configuration after loading: Distribution's YAML (version 0.1) merged with REGISTRY_*
 * environment overrides, validated, with defaults filled in and durations in milliseconds.
 * Everything else in Berth depends on this shape only, never on the YAML.
 */
export interface Config {
  version: '0.1';
  log: LogConfig;
  storage: StorageConfig;
  http: HttpConfig;
  validation: ValidationConfig;
  catalog: CatalogConfig;
  /** Sections accepted but handled by features added later (auth, redis, proxy, …): kept raw. */
  auth?: AuthConfig;
  notifications?: NotificationsConfig;
  redis?: Record<string, unknown>;
  health?: HealthConfig;
  /** `proxy` (Distribution's single upstream) and `berth.proxy.upstreams`, checked (src/proxy/config.ts). */
  proxy?: MirrorConfig;
  /** middleware: the storage middleware to apply, checked (src/storage/middleware/config.ts). */
  middleware?: MiddlewareConfig;
  /** Berth-specific extensions; Distribution ignores this key. */
  berth?: Record<string, unknown>;
  /** berth.gc, checked and with defaults (built from `berth` by build.ts; absent means the defaults). */
  gc?: GcConfig;
  /** berth.ui, checked and with defaults (built from `berth` by build.ts; absent means the defaults). */
  ui?: UiConfig;
  /** berth.http: client limits, checked and with defaults (built from `berth` by build.ts; absent means the defaults). */
  httpLimits?: HttpLimits;
  /** berth.referrers (built from `berth` by build.ts; absent means the defaults). */
  referrers?: ReferrersConfig;
  /** berth.retention, checked (src/policy/config.ts); absent when not configured. */
  retention?: RetentionConfig;
  /** berth.quotas, checked (src/policy/config.ts); absent when not configured. */
  quotas?: QuotaRule[];
  /** berth.immutabletags, checked (src/policy/config.ts); absent when not configured. */
  immutableTags?: ImmutableTagRule[];
}

/**
 * berth.retention (docs/policy.md): zot's model and key names, lower-cased. Repository globs and
 * tag patterns are kept as written; src/policy/match.ts compiles them (checked at load).
 */
export interface RetentionConfig {
  /** Run inside `serve` this often; 0 (the default): only by `berth retention`. */
  intervalMs: number;
  dryrun: boolean;
  /** Untagged manifests and referrers younger than this are never removed (default 24h). */
  delayMs: number;
  /** The first policy whose repositories match a repository applies to it. */
  policies: RetentionPolicy[];
}

export interface RetentionPolicy {
  /** Globs (`*` within one path segment, `**` across); absent: every repository. */
  repositories?: string[];
  deleteUntagged: boolean;
  /** Remove referrers whose subject is gone. */
  deleteReferrers: boolean;
  /** Absent: every tag stays. Present: a tag stays when any rule keeps it, the others go. */
  keepTags?: KeepTagsRule[];
}

export interface KeepTagsRule {
  /** Regular expressions (RE2) found anywhere in the tag; absent: every tag. */
  patterns?: string[];
  mostRecentlyPushedCount?: number;
  mostRecentlyPulledCount?: number;
  pushedWithinMs?: number;
  pulledWithinMs?: number;
}

/** One of berth.quotas. */
export interface QuotaRule {
  repositories: string[];
  /** The limit in bytes; absent, the rule only measures (usage for `berth quota` and the metrics) and refuses nothing. */
  maxBytes?: number;
  /** Each matching repository gets the limit alone; otherwise they share it. */
  each: boolean;
}

/** One of berth.immutabletags. */
export interface ImmutableTagRule {
  repositories: string[];
  /** Regular expressions (RE2) found anywhere in the tag. */
  tags: string[];
}

/** berth.referrers. */
export interface ReferrersConfig {
  /** Keep the distribution spec's referrers tag schema (`<alg>-<ref>` tags) beside the referrers API. */
  fallbackTags: boolean;
}

/** berth.ui: the web UI the registry serves at `/` (docs/ui.md). */
export interface UiConfig {
  /** Serve the pages at `/` (default true). The JSON endpoints under /v2/_berth/ stay either way. */
  enabled: boolean;
  /** The registry's name in the page's title and header (default "Berth"). */
  title: string;
}

export interface MiddlewareConfig {
  /** Registered storage middleware, in the order listed (the first wraps the driver first). */
  storage: { name: string; options: Record<string, unknown> }[];
}

/** berth.gc: the garbage collector's grace period and its scheduled run inside `serve` (docs/gc.md). */
export interface GcConfig {
  /** Run the collector inside `serve` every `intervalMs` (default false). */
  enabled: boolean;
  /** Default 24h. */
  intervalMs: number;
  /** Blobs and untagged manifests younger than this are never deleted (default 1h). */
  graceMs: number;
  /** The scheduled run also deletes untagged manifests (as `garbage-collect -m`). */
  deleteUntagged: boolean;
  /** The scheduled run only logs what it would delete. */
  dryrun: boolean;
}

/** The pull-through cache (docs/mirror.md): upstreams sorted longest prefix first; prefix "" is the default upstream. */
export interface MirrorConfig {
  upstreams: UpstreamConfig[];
}

export interface UpstreamConfig {
  /** Local names `<prefix>/<rest>` are mirrored from `<rest>` upstream; "" mirrors every name no other prefix takes. */
  prefix: string;
  /** scheme://host[:port][/path], without a trailing slash. */
  remoteurl: string;
  username?: string;
  password?: string;
  /** Cached content expires this long after its last pull; 0 never expires. */
  ttlMs: number;
  /** Connecting and receiving the response headers. */
  timeoutMs: number;
  /** Longest pause between two chunks of a response body. */
  idleTimeoutMs: number;
  /** Distribution v3's `remotenamespace`: names are looked up under `<namespace>/` upstream. */
  remotenamespace?: string;
}

/**
 * `auth`: exactly one access controller, by name, with its parameters as written (checked, with
 * errors naming the key, when the server starts: src/auth/config.ts). Known controllers:
 * - silly    { realm, service }
 * - htpasswd { realm, path }
 * - token    { realm, service, issuer, rootcertbundle, jwks, autoredirect, autoredirectpath, signingalgorithms }
 * Berth's own additions (permissions, groups, token issuer, failed-login limits) are under `berth.auth`.
 */
export type AuthConfig = Record<string, Record<string, unknown>>;

export interface LogConfig {
  level: 'error' | 'warn' | 'info' | 'debug' | 'trace';
  formatter: 'json' | 'text';
  fields: Record<string, unknown>;
  accesslog: { disabled: boolean };
}

export interface StorageConfig {
  /** The driver chosen (the one key under `storage` that is not a setting below), e.g. "filesystem". */
  driver: string;
  /** The driver's own parameters (the map under `storage.<driver>`), keys lower-cased. */
  parameters: Record<string, unknown>;
  delete: { enabled: boolean };
  redirect: { disable: boolean };
  cache: { blobdescriptor?: 'inmemory' | 'redis'; blobdescriptorsize: number };
  maintenance: {
    uploadpurging: { enabled: boolean; ageMs: number; intervalMs: number; dryrun: boolean };
    readonly: { enabled: boolean };
  };
  /** storage.tag: concurrency of tag lookups when deleting a manifest; 0 means "pick a default". */
  tag?: { concurrencylimit: number };
}

export interface HttpConfig {
  /** host:port for tcp, a socket path for unix. */
  addr: string;
  net: 'tcp' | 'unix';
  /** URL path prefix, "" or "/something" (no trailing slash). */
  prefix: string;
  /** Externally visible base URL (scheme://host[:port]) used in Location headers, when set. */
  host?: string;
  secret?: string;
  relativeurls: boolean;
  /** How long close() waits for in-flight requests; 0 (the default) waits without limit, as Distribution. */
  drainTimeoutMs: number;
  /** Extra response headers, each with one or more values. */
  headers: Record<string, string[]>;
  tls?: { certificate: string; key: string; minimumtls?: 'tls1.0' | 'tls1.1' | 'tls1.2' | 'tls1.3'; clientcas?: string[]; ciphersuites?: string[]; clientauth?: string };
  debug?: { addr: string; prometheus?: { enabled: boolean; path: string } };
  /** http.http2 / http.h2c, present only when the file sets them. */
  http2?: { disabled: boolean };
  h2c?: { enabled: boolean };
}

/**
 * berth.http (docs/operations.md, "Client limits"): how long, and how many, clients may hold the
 * server. Distribution's `http` section has no such keys (its Go server sets none), so they live
 * under `berth`.
 */
export interface HttpLimits {
  /** berth.http.headertimeout (default 60s): longest wait for a request's headers, a fresh connection's first ones included. */
  headerTimeoutMs: number;
  /** berth.http.bodytimeout (default 60s): longest pause in a request body while the server waits for it; 0: none. */
  bodyTimeoutMs: number;
  /** berth.http.keepalivetimeout (default 65s): longest idle time of a connection between requests. */
  keepAliveTimeoutMs: number;
  /** berth.http.maxconnections (default 0: no limit): connections past it are closed as they arrive. */
  maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = { headerTimeoutMs: 60_000, bodyTimeoutMs: 60_000, keepAliveTimeoutMs: 65_000, maxConnections: 0 };

/** catalog (Distribution v3). */
export interface CatalogConfig {
  /** The most repository names one /v2/_catalog page holds (default 1000); a larger `n` is cut to it. */
  maxEntries: number;
}

export interface ValidationConfig {
  disabled: boolean;
  /** Patterns use Go regexp syntax: compile them with compileGoRegExp (src/config/regexp.ts). */
  manifests: { urls: { allow: string[]; deny: string[] }; indexes: IndexValidation };
}

/**
 * validation.manifests.indexes (Distribution v3): which children of a pushed index must already be
 * in the repository. `all` (the default), `none`, or `list`: those whose platform is in `platformlist`.
 */
export interface IndexValidation {
  platforms: 'all' | 'none' | 'list';
  platformlist: { os: string; architecture: string }[];
}

/** notifications (src/notifications/config.ts fills in Distribution's defaults). */
export interface NotificationsConfig {
  events: { includereferences: boolean };
  endpoints: NotificationEndpointConfig[];
}

export interface NotificationEndpointConfig {
  name: string;
  /** Where the built-in sink POSTs events; "" when a plugin's `sink` delivers them instead. */
  url: string;
  /** Berth: a registered notification sink (a plugin's) instead of the HTTP POST, with its options. */
  sink?: { name: string; options: Record<string, unknown> };
  headers: Record<string, string[]>;
  timeoutMs: number;
  threshold: number;
  backoffMs: number;
  ignoredmediatypes: string[];
  ignore: { mediatypes: string[]; actions: string[] };
  disabled: boolean;
  /** Berth: events held for the endpoint at most; more are dropped (and counted). */
  queuesize: number;
}

/** health (src/health/config.ts). Durations in milliseconds. */
export interface HealthConfig {
  storagedriver: { enabled: boolean; intervalMs: number; threshold: number };
  file: { file: string; intervalMs: number }[];
  http: { uri: string; headers: Record<string, string[]>; statuscode: number; timeoutMs: number; intervalMs: number; threshold: number }[];
  tcp: { addr: string; timeoutMs: number; intervalMs: number; threshold: number }[];
}
