/**
 * Command-line options of `npm run bench` and the two size profiles (full and --quick).
 */

/** Berth with berth.workers: 1 (one process), Berth with workers: auto (one per CPU), Distribution. */
export type ServerName = 'berth' | 'berth-auto' | 'distribution';
export const SERVER_NAMES: readonly ServerName[] = ['berth', 'berth-auto', 'distribution'];

/** Where both registries keep their data: a temp folder each (default) or buckets on one S3 server. */
export type StorageMode = 'filesystem' | 's3';

export interface Sizes {
  /** Scenario 1: one monolithic blob (POST + PUT). */
  monolithicBytes: number;
  /** Scenario 2: one blob pushed in PATCH chunks. */
  chunkedBytes: number;
  chunkBytes: number;
  /** Scenario 3: one blob pulled. */
  pullBytes: number;
  /** The layer of the image skopeo copies and docker pushes. */
  clientImageBytes: number;
  /** The image the client-copy scenario copies with berth and skopeo. */
  clientCopyBytes: number;
  /** Scenarios 4 and 5: load generator settings. */
  loadSeconds: number;
  loadConnections: number;
  loadThreads: number;
  /** Scenario 6: concurrent pushers. */
  pushClients: number;
  blobsPerClient: number;
  blobBytes: number;
  /** Scenario 7 (with --storage s3: the listing scenarios s3-catalog, s3-tags, s3-tags-last). */
  tags: number;
  repos: number;
  pageSize: number;
  listingSamples: number;
  /** Quiet time before the first listing GET of a round, so short-lived server caches expire. */
  listingIdleMs: number;
  /** Timed repetitions per scenario and server. */
  reps: number;
}

export const FULL: Sizes = {
  monolithicBytes: 256 * 2 ** 20,
  chunkedBytes: 2 ** 30,
  chunkBytes: 16 * 2 ** 20,
  pullBytes: 2 ** 30,
  clientImageBytes: 512 * 2 ** 20,
  clientCopyBytes: 2 ** 30,
  loadSeconds: 10,
  loadConnections: 64,
  loadThreads: 1,
  pushClients: 64,
  blobsPerClient: 16,
  blobBytes: 2 ** 20,
  tags: 2000,
  repos: 2000,
  pageSize: 1000,
  listingSamples: 15,
  listingIdleMs: 2000,
  reps: 3,
};

export const QUICK: Sizes = {
  monolithicBytes: 16 * 2 ** 20,
  chunkedBytes: 32 * 2 ** 20,
  chunkBytes: 4 * 2 ** 20,
  pullBytes: 32 * 2 ** 20,
  clientImageBytes: 16 * 2 ** 20,
  clientCopyBytes: 16 * 2 ** 20,
  loadSeconds: 1,
  loadConnections: 16,
  loadThreads: 1,
  pushClients: 8,
  blobsPerClient: 4,
  blobBytes: 256 * 2 ** 10,
  tags: 60,
  repos: 60,
  pageSize: 50,
  listingSamples: 3,
  listingIdleMs: 100,
  reps: 1,
};

/**
 * What --storage s3 changes. Listings at the sizes of issue 7 (10,000 repositories, one with
 * 5,000 tags, pages of 100). Blobs smaller than on the filesystem: every push stores a new object
 * in RGW's memstore (RAM), Distribution's upload is copied once more inside S3, and deleted data
 * is only freed by RGW's garbage collector minutes later; see docs/performance.md.
 */
export const S3_FULL: Partial<Sizes> = {
  monolithicBytes: 128 * 2 ** 20,
  chunkedBytes: 128 * 2 ** 20,
  pullBytes: 256 * 2 ** 20,
  clientImageBytes: 128 * 2 ** 20,
  tags: 5000,
  repos: 10_000,
  pageSize: 100,
  listingSamples: 15,
};

/** --quick --storage s3: tiny listings, the quick blob sizes. */
export const S3_QUICK: Partial<Sizes> = {
  tags: 150,
  repos: 200,
  pageSize: 50,
  listingSamples: 3,
};

export interface Options {
  quick: boolean;
  storage: StorageMode;
  out: string;
  scenarios: string[] | undefined;
  servers: ServerName[] | undefined;
  profile: boolean;
  keep: boolean;
  /** CPU list for `taskset -c` around wrk/ab, or undefined for no pinning. */
  pin: string | undefined;
  logLevel: string;
  /** Berth's built CLI (default dist/cli.js). */
  berthCli: string;
  /** Extra node options for Berth's processes (e.g. --max-semi-space-size=8), or none. */
  berthNodeArgs: string[];
  /** Extra storage.s3 keys both registries get with --storage s3 (--s3-param), or none. */
  s3Params: Record<string, string | number>;
  sizes: Sizes;
}

const USAGE = `Usage: npm run bench -- [options]
  --out DIR            folder for results JSON, logs and profiles (default ./.bench-results)
  --quick              smoke mode: small sizes, one repetition, a few seconds; exits non-zero on any error
  --storage MODE       filesystem (default) or s3: both registries on buckets of one S3 server (a
                       throw-away Ceph RGW started and stopped by the bench, or the one named by
                       S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION), blob redirects off;
                       scenarios s3-catalog, s3-tags, s3-tags-last, ui, push-monolithic, push-chunked,
                       push-skopeo, pull, manifest-get
  --repos N            repositories for the catalog scenario (filesystem 2000, s3 10000)
  --tags N             tags for the tag-list scenarios (filesystem 2000, s3 5000)
  --scenario NAME      run only this scenario (repeatable, or comma-separated)
  --servers LIST       berth,berth-auto,distribution (default: all three; berth runs berth.workers: 1,
                       berth-auto workers: auto; --quick drops distribution when absent)
  --reps N             timed repetitions per scenario and server (default 3, quick 1)
  --duration S         seconds per wrk/ab run (default 10, quick 1)
  --connections N      connections for wrk/ab (default 64, quick 16)
  --threads N          wrk threads (default 1)
  --pin CPUS           run wrk/ab under taskset -c CPUS (default: no pinning)
  --log-level LEVEL    log.level in both servers' config (default info, Distribution's default)
  --berth PATH         Berth's entry (default bin/berth, the command with its node options; a
                       .js/.cjs entry runs with plain node; a private build keeps a run
                       consistent while others rebuild dist/)
  --node-arg ARG       start Berth's node with ARG too, on its command line (repeatable; e.g.
                       --max-semi-space-size=16 instead of the command's 8; workers get it too)
  --s3-param KEY=VALUE with --storage s3, one more storage.s3 key for both registries (repeatable;
                       e.g. multipartcopythresholdsize=5368709120: a move is one CopyObject, which
                       Ceph RGW does by reference, where a multipart copy rewrites every byte)
  --profile            start Berth with --cpu-prof, profiles written into OUT/profile
  --keep               keep the temporary server roots
  --list               list the scenarios and exit`;

export function usage(): string {
  return USAGE;
}

function positiveInt(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer, got ${String(value)}`);
  return n;
}

export function parseOptions(argv: string[]): Options | 'help' | 'list' {
  let quick = false;
  let storage: StorageMode = 'filesystem';
  let out = '.bench-results';
  const scenarios: string[] = [];
  let servers: ServerName[] | undefined;
  let profile = false;
  let keep = false;
  let pin: string | undefined;
  let logLevel = 'info';
  let berthCli = 'bin/berth';
  const berthNodeArgs: string[] = [];
  const s3Params: Record<string, string | number> = {};
  const overrides: Partial<Sizes> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--help':
      case '-h':
        return 'help';
      case '--list':
        return 'list';
      case '--quick':
        quick = true;
        break;
      case '--storage': {
        const v = next();
        if (v !== 'filesystem' && v !== 's3') throw new Error(`--storage: filesystem or s3, got ${v}`);
        storage = v;
        break;
      }
      case '--repos':
        overrides.repos = positiveInt(arg, next());
        break;
      case '--tags':
        overrides.tags = positiveInt(arg, next());
        break;
      case '--out':
        out = next();
        break;
      case '--scenario':
        scenarios.push(...next().split(',').filter(Boolean));
        break;
      case '--servers':
        servers = next()
          .split(',')
          .filter(Boolean)
          .map((s) => {
            if (!SERVER_NAMES.includes(s as ServerName)) throw new Error(`unknown server ${s} (${SERVER_NAMES.join(', ')})`);
            return s as ServerName;
          });
        break;
      case '--reps':
        overrides.reps = positiveInt(arg, next());
        break;
      case '--duration':
        overrides.loadSeconds = positiveInt(arg, next());
        break;
      case '--connections':
        overrides.loadConnections = positiveInt(arg, next());
        break;
      case '--threads':
        overrides.loadThreads = positiveInt(arg, next());
        break;
      case '--pin':
        pin = next();
        break;
      case '--log-level':
        logLevel = next();
        break;
      case '--berth':
        berthCli = next();
        break;
      case '--node-arg':
        berthNodeArgs.push(next());
        break;
      case '--s3-param': {
        const [key, ...value] = next().split('=');
        const text = value.join('=');
        s3Params[key!] = /^\d+$/.test(text) ? Number(text) : text;
        break;
      }
      case '--profile':
        profile = true;
        break;
      case '--keep':
        keep = true;
        break;
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  const forStorage = storage === 's3' ? (quick ? S3_QUICK : S3_FULL) : {};
  const sizes: Sizes = { ...(quick ? QUICK : FULL), ...forStorage, ...overrides };
  return {
    quick,
    storage,
    out,
    scenarios: scenarios.length ? scenarios : undefined,
    servers,
    profile,
    keep,
    pin,
    logLevel,
    berthCli,
    berthNodeArgs,
    s3Params,
    sizes,
  };
}
