import { RegistryError } from '../../oci/errors.js';

/** Query parameters the UI's list endpoints share: paging by offset, filtering by substring or regular expression. */

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 1000;
const MAX_PATTERN_LENGTH = 256;

export interface Paging {
  n: number;
  offset: number;
}

export function paging(query: URLSearchParams): Paging {
  return { n: Math.min(count(query, 'n', DEFAULT_PAGE), MAX_PAGE), offset: count(query, 'offset', 0) };
}

function count(query: URLSearchParams, key: string, fallback: number): number {
  const v = query.get(key);
  if (v === null || v === '') return fallback;
  if (!/^\d{1,9}$/.test(v)) throw new RegistryError('PAGINATION_NUMBER_INVALID', `${key} must be a non-negative integer`, { [key]: v });
  return Number(v);
}

/** A query parameter that must be one of `allowed` (the first when absent). */
export function choice<T extends string>(query: URLSearchParams, key: string, allowed: readonly T[]): T {
  const v = query.get(key);
  if (v === null || v === '') return allowed[0]!;
  const found = allowed.find((a) => a === v);
  if (!found) throw badParameter(`${key} must be one of ${allowed.join(', ')}`, { [key]: v });
  return found;
}

export function badParameter(message: string, detail?: unknown): RegistryError {
  return new RegistryError('UNSUPPORTED', message, detail, { status: 400 });
}

/**
 * The filter `q` (a substring, case-insensitive) and `regex` (RE2 syntax, matched anywhere in
 * the name) ask for; undefined when neither is given. RE2 runs in linear time, so no pattern a
 * caller sends can stall the process the way a backtracking RegExp could.
 */
export async function nameFilter(query: URLSearchParams): Promise<((name: string) => boolean) | undefined> {
  const q = query.get('q')?.toLowerCase() ?? '';
  const pattern = query.get('regex') ?? '';
  if (q === '' && pattern === '') return undefined;
  if (pattern.length > MAX_PATTERN_LENGTH) throw badParameter(`regex longer than ${MAX_PATTERN_LENGTH} characters`);
  let regex: ((name: string) => boolean) | undefined;
  if (pattern !== '') {
    // Loaded on first use: most registries never filter by regular expression.
    const { RE2JS } = await import('re2js');
    let compiled: InstanceType<typeof RE2JS>;
    try {
      compiled = RE2JS.compile(pattern);
    } catch (err) {
      throw badParameter(`invalid regex: ${(err as Error).message}`, { regex: pattern });
    }
    regex = (name) => compiled.matcher(name).find();
  }
  return (name) => (q === '' || name.toLowerCase().includes(q)) && (regex === undefined || regex(name));
}
