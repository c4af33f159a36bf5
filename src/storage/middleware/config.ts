import { ConfigError } from '../../config/errors.js';
import type { MiddlewareConfig } from '../../config/types.js';
import { registeredStorageMiddleware } from './index.js';

type Raw = Record<string, unknown>;
const isMap = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `middleware` from Distribution's YAML: `storage`, `registry` and `repository` lists of
 * `{ name, options, disabled }`. Storage entries with a registered name are kept in order; an
 * unknown name, and every registry or repository middleware (Distribution ships none; they are
 * Go plugins compiled into a build), is reported as a warning and ignored, so a configuration
 * written for another build of Distribution still starts.
 */
export function buildMiddleware(raw: unknown, warn: (message: string) => void): MiddlewareConfig {
  if (!isMap(raw)) throw new ConfigError('middleware: expected a map');
  const result: MiddlewareConfig = { storage: [] };
  for (const [kind, list] of Object.entries(raw)) {
    const key = `middleware.${kind}`;
    if (list === null || list === undefined) continue;
    if (!Array.isArray(list)) throw new ConfigError(`${key}: expected a list of middleware`);
    list.forEach((item: unknown, i) => {
      const at = `${key}[${i}]`;
      if (!isMap(item)) throw new ConfigError(`${at}: expected a map with name and options`);
      const entry = Object.fromEntries(Object.entries(item).map(([k, v]) => [k.toLowerCase(), v]));
      if (typeof entry.name !== 'string' || entry.name === '') throw new ConfigError(`${at}.name: required`);
      const disabled = entry.disabled === true || entry.disabled === 'true';
      if (entry.options !== undefined && entry.options !== null && !isMap(entry.options)) throw new ConfigError(`${at}.options: expected a map`);
      if (disabled) return;
      if (kind !== 'storage') {
        warn(`${at}: ${kind} middleware "${entry.name}" is not available in Berth and is ignored`);
        return;
      }
      if (!registeredStorageMiddleware().includes(entry.name)) {
        warn(`${at}: unknown storage middleware "${entry.name}" (known: ${registeredStorageMiddleware().join(', ')}); ignored`);
        return;
      }
      const options = Object.fromEntries(Object.entries(isMap(entry.options) ? entry.options : {}).map(([k, v]) => [k.toLowerCase(), v]));
      result.storage.push({ name: entry.name, options });
    });
  }
  return result;
}
