import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { ConfigError } from '../../config/errors.js';
import { durationToMs } from '../../config/duration.js';
import type { StorageDriver } from '../driver/types.js';
import { withRedirectURL, type StorageMiddlewareContext } from './index.js';
import { parseBaseUrl } from './redirect.js';

const DEFAULT_DURATION_MS = 20 * 60_000;

/**
 * `cloudfront` (Distribution's storage middleware): blob downloads are redirected (307) to
 * `baseurl` + the blob's object key, signed with CloudFront's canned policy (`Expires`,
 * `Signature`, `Key-Pair-Id`; valid for `duration`, default 20m) by the AWS SDK's signer, so a
 * CloudFront distribution whose origin is the bucket serves the bytes. As in Distribution it
 * needs a driver with object keys (s3); with another driver it warns at start-up and blob URLs
 * stay the driver's own. `ipfilteredby` (sending AWS-internal clients to S3 directly) is not
 * implemented: every client goes to CloudFront.
 */
export function cloudFrontMiddleware(driver: StorageDriver, options: Record<string, unknown>, { key, logger }: StorageMiddlewareContext): StorageDriver {
  const given = typeof options.baseurl === 'string' && options.baseurl !== '' && !options.baseurl.includes('://') ? `https://${options.baseurl}` : options.baseurl;
  let baseurl = parseBaseUrl(given, `${key}.options.baseurl`).href;
  if (!baseurl.endsWith('/')) baseurl += '/';
  const keyPairId = requiredString(options.keypairid, `${key}.options.keypairid`);
  const privateKey = readPrivateKey(requiredString(options.privatekey, `${key}.options.privatekey`), `${key}.options.privatekey`);
  const durationMs = parseDuration(options.duration, `${key}.options.duration`);
  const filter = typeof options.ipfilteredby === 'string' ? options.ipfilteredby.trim().toLowerCase() : '';
  if (filter !== '' && filter !== 'none') logger.warn(`${key}.options.ipfilteredby: "${filter}" is not implemented; every client is redirected to CloudFront`);

  const objectKey = driver.objectKey?.bind(driver);
  if (!objectKey) {
    logger.warn(`${key}: cloudfront needs a storage driver with object keys (s3); the ${driver.name} driver has none, so blob downloads are served as without it`);
    return driver;
  }
  return withRedirectURL(driver, async (path) =>
    getSignedUrl({ url: baseurl + objectKey(path), keyPairId, privateKey, dateLessThan: new Date(Date.now() + durationMs) }),
  );
}

function requiredString(value: unknown, key: string): string {
  if (value === undefined || value === null || value === '') throw new ConfigError(`${key}: required`);
  if (typeof value !== 'string') throw new ConfigError(`${key}: expected a string`);
  return value;
}

/** The PEM file's content, checked to be an RSA private key now rather than at the first download. */
function readPrivateKey(file: string, key: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    if (createPrivateKey(pem).asymmetricKeyType !== 'rsa') throw new Error('not an RSA key');
  } catch (err) {
    throw new ConfigError(`${key}: ${file} is not an RSA private key in PEM form (${(err as Error).message})`);
  }
  return pem;
}

/** A Go duration string; as in Distribution, a bare number (no unit) leaves the 20m default. */
function parseDuration(value: unknown, key: string): number {
  if (value === undefined || value === null || value === '' || typeof value === 'number') return DEFAULT_DURATION_MS;
  const ms = typeof value === 'string' ? durationToMs(value) : undefined;
  if (ms === undefined || ms <= 0) throw new ConfigError(`${key}: expected a duration such as 20m or 3000s, got ${JSON.stringify(value)}`);
  return ms;
}
