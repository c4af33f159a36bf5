import { ConfigError } from '../../config/errors.js';
import type { StorageDriver } from '../driver/types.js';
import { withRedirectURL, type StorageMiddlewareContext } from './index.js';

/**
 * `redirect` (Distribution's storage middleware): blob downloads (GET and HEAD) are answered with
 * 307 to `baseurl` joined with the blob's driver path
 * (`<baseurl>/docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data`), for a CDN or web server that
 * serves the storage root. The URL is not signed: whoever knows a digest can fetch it there.
 */
export function redirectMiddleware(driver: StorageDriver, options: Record<string, unknown>, { key }: StorageMiddlewareContext): StorageDriver {
  const base = parseBaseUrl(options.baseurl, `${key}.options.baseurl`);
  const prefix = base.pathname.replace(/\/+$/, '');
  return withRedirectURL(driver, async (path) => {
    const url = new URL(base.href);
    url.pathname = prefix + path;
    url.search = '';
    url.hash = '';
    return url.href;
  });
}

/** An absolute http(s) URL with a host; anything else is a ConfigError naming `key`. */
export function parseBaseUrl(value: unknown, key: string): URL {
  if (value === undefined || value === null || value === '') throw new ConfigError(`${key}: required`);
  if (typeof value !== 'string') throw new ConfigError(`${key}: expected a URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${key}: invalid URL ${JSON.stringify(value)} (expected scheme://host[/path])`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.host) throw new ConfigError(`${key}: expected an http or https URL with a host, got ${JSON.stringify(value)}`);
  return url;
}
