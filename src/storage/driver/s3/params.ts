/**
 * `storage.s3` parameters, with Distribution's names, defaults and limits. Values may arrive as
 * strings (REGISTRY_STORAGE_S3_* environment overrides), so numbers and booleans are parsed from
 * either form. Problems throw one Error naming the key.
 */

export const MIB = 1024 * 1024;
/** S3's smallest part (every part of a multipart upload but the last). */
export const MIN_PART_SIZE = 5 * MIB;
/** S3's largest part, and largest single CopyObject. */
export const MAX_PART_SIZE = 5 * 1024 * MIB;
export const MAX_PARTS = 10_000;

export interface S3Params {
  region: string;
  regionendpoint?: string;
  forcepathstyle: boolean;
  bucket: string;
  accesskey?: string;
  secretkey?: string;
  sessiontoken?: string;
  encrypt: boolean;
  keyid?: string;
  secure: boolean;
  skipverify: boolean;
  v4auth: boolean;
  chunksize: number;
  multipartcopychunksize: number;
  multipartcopymaxconcurrency: number;
  multipartcopythresholdsize: number;
  /** Key prefix, without leading or trailing slashes ("" for the bucket's root). */
  rootdirectory: string;
  /** undefined: send none (Distribution's "NONE"). */
  storageclass?: string;
  objectacl: string;
  useragent?: string;
  usedualstack: boolean;
  accelerate: boolean;
  loglevel: string;
  /** Berth: milliseconds before an S3 request is abandoned (0: never). Default 5 minutes. */
  requesttimeout: number;
  /** Berth: seconds a redirect URL stays valid. Default 20 minutes, as Distribution. */
  redirectexpiry: number;
}

const STORAGE_CLASSES = new Set([
  'STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING',
  'OUTPOSTS', 'GLACIER_IR', 'EXPRESS_ONEZONE',
]);
const ACLS = new Set(['private', 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read',
  'bucket-owner-read', 'bucket-owner-full-control', 'log-delivery-write']);

function str(p: Record<string, unknown>, key: string): string | undefined {
  const v = p[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`storage.s3.${key}: expected a string`);
}

function bool(p: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = p[key];
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  throw new Error(`storage.s3.${key}: expected true or false, got ${JSON.stringify(v)}`);
}

function int(p: Record<string, unknown>, key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = p[key];
  if (v === undefined || v === null || v === '') return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new Error(`storage.s3.${key}: expected a whole number, got ${JSON.stringify(v)}`);
  if (n < min || n > max) throw new Error(`storage.s3.${key}: must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function parseS3Params(p: Record<string, unknown>): S3Params {
  const bucket = str(p, 'bucket');
  if (!bucket) throw new Error('storage.s3.bucket: required');
  const regionendpoint = str(p, 'regionendpoint');
  const region = str(p, 'region') ?? (regionendpoint ? 'us-east-1' : undefined);
  if (!region) throw new Error('storage.s3.region: required (or set storage.s3.regionendpoint)');
  const accesskey = str(p, 'accesskey');
  const secretkey = str(p, 'secretkey');
  if (Boolean(accesskey) !== Boolean(secretkey)) throw new Error('storage.s3.accesskey and storage.s3.secretkey: set both or neither');
  const storageclassRaw = (str(p, 'storageclass') ?? 'STANDARD').toUpperCase();
  if (storageclassRaw !== 'NONE' && !STORAGE_CLASSES.has(storageclassRaw)) {
    throw new Error(`storage.s3.storageclass: unknown class "${storageclassRaw}"`);
  }
  const objectacl = str(p, 'objectacl') ?? 'private';
  if (!ACLS.has(objectacl)) throw new Error(`storage.s3.objectacl: unknown ACL "${objectacl}"`);
  const rootdirectory = (str(p, 'rootdirectory') ?? '').replace(/^\/+|\/+$/g, '');
  if (rootdirectory && !/^[A-Za-z0-9._/-]+$/.test(rootdirectory)) throw new Error(`storage.s3.rootdirectory: invalid "${rootdirectory}"`);
  const params: S3Params = {
    region,
    // Distribution addresses a custom endpoint path-style; AWS itself virtual-host style.
    forcepathstyle: bool(p, 'forcepathstyle', regionendpoint !== undefined),
    bucket,
    encrypt: bool(p, 'encrypt', false),
    secure: bool(p, 'secure', true),
    skipverify: bool(p, 'skipverify', false),
    v4auth: bool(p, 'v4auth', true),
    chunksize: int(p, 'chunksize', 10 * MIB, MIN_PART_SIZE, MAX_PART_SIZE),
    multipartcopychunksize: int(p, 'multipartcopychunksize', 32 * MIB, MIN_PART_SIZE, MAX_PART_SIZE),
    multipartcopymaxconcurrency: int(p, 'multipartcopymaxconcurrency', 100, 1, 10_000),
    // A store named by regionendpoint (Ceph RGW, MinIO, GCS, R2…) moves with one CopyObject up to
    // S3's 5 GiB limit: RGW copies by reference where a multipart copy rewrites every byte (14 s of
    // its CPU per GiB here), and GCS needs no UploadPartCopy then. AWS keeps Distribution's 32 MiB:
    // its multipart copy runs the parts in parallel (docs/deployment.md).
    multipartcopythresholdsize: int(p, 'multipartcopythresholdsize', regionendpoint !== undefined ? MAX_PART_SIZE : 32 * MIB, 0, MAX_PART_SIZE),
    rootdirectory,
    objectacl,
    usedualstack: bool(p, 'usedualstack', false),
    accelerate: bool(p, 'accelerate', false),
    loglevel: str(p, 'loglevel') ?? 'off',
    requesttimeout: int(p, 'requesttimeout', 300_000, 0),
    redirectexpiry: int(p, 'redirectexpiry', 20 * 60, 1, 7 * 24 * 3600),
  };
  if (regionendpoint !== undefined) params.regionendpoint = regionendpoint;
  if (accesskey && secretkey) {
    params.accesskey = accesskey;
    params.secretkey = secretkey;
  }
  const sessiontoken = str(p, 'sessiontoken');
  if (sessiontoken) params.sessiontoken = sessiontoken;
  const keyid = str(p, 'keyid');
  if (keyid) params.keyid = keyid;
  if (storageclassRaw !== 'NONE') params.storageclass = storageclassRaw;
  const useragent = str(p, 'useragent');
  if (useragent) params.useragent = useragent;
  return params;
}

/** The endpoint URL for the SDK: regionendpoint as given, or with a scheme from `secure`. */
export function endpointUrl(params: S3Params): string | undefined {
  const e = params.regionendpoint;
  if (!e) return undefined;
  if (/^https?:\/\//i.test(e)) return e;
  return `${params.secure ? 'https' : 'http'}://${e}`;
}
