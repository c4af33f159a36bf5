import { isScalar, parseDocument, type ScalarTag, type Tags } from 'yaml';

/**
 * YAML is read the way Distribution's Go decoder (go-yaml v2) reads it:
 * - YAML 1.1 scalars: yes/no/on/off/y/n are booleans, 0777 is octal, `<<` merge keys work;
 *   but no sexagesimal numbers (1:20) and no timestamps, which go-yaml does not resolve either;
 * - duplicate keys are allowed (the last one wins);
 * - a plain scalar decoded into a string field keeps its source text (`secret: 0123` is the
 *   string "0123", not 83). To make that possible, every plain scalar that resolves to a boolean
 *   or a number is kept as a TypedScalar carrying both the value and the text; the schema picks
 *   the one the target field needs, and `plain()` strips the wrappers for free-form sections.
 */
export class TypedScalar {
  constructor(
    readonly value: boolean | number,
    readonly text: string,
  ) {}
}

const WRAPPED = new Set(['tag:yaml.org,2002:bool', 'tag:yaml.org,2002:int', 'tag:yaml.org,2002:float']);
const DROPPED = new Set(['tag:yaml.org,2002:timestamp']);

function customTags(tags: Tags): Tags {
  return tags
    .filter((tag) => typeof tag === 'object' && !DROPPED.has(tag.tag) && tag.format !== 'TIME')
    .map((tag) => {
      if (typeof tag !== 'object' || !WRAPPED.has(tag.tag) || tag.collection) return tag;
      const scalarTag = tag as ScalarTag;
      const resolve = scalarTag.resolve;
      const wrapped: ScalarTag = {
        ...scalarTag,
        resolve(text, onError, options) {
          const resolved = resolve(text, onError, options);
          const value: unknown = isScalar(resolved) ? resolved.value : resolved;
          if (typeof value === 'number' || typeof value === 'boolean') return new TypedScalar(value, text);
          if (typeof value === 'bigint') return new TypedScalar(Number(value), text);
          return value;
        },
      };
      return wrapped;
    });
}

export class YamlSyntaxError extends Error {}

/** Parses YAML text into plain objects, arrays, strings, nulls and TypedScalars. */
export function parseYaml(text: string): unknown {
  const doc = parseDocument(text, {
    version: '1.1',
    schema: 'yaml-1.1',
    customTags,
    merge: true,
    uniqueKeys: false,
    stringKeys: true,
    prettyErrors: true,
  });
  const error = doc.errors[0];
  if (error) {
    const where = error.linePos ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}` : '';
    const first = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'syntax error';
    throw new YamlSyntaxError(`${first}${where}`);
  }
  return doc.toJS({ maxAliasCount: 1000 }) as unknown;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof TypedScalar);
}

/** The value with every TypedScalar replaced by its resolved value (for free-form sections). */
export function plain(value: unknown): unknown {
  if (value instanceof TypedScalar) return value.value;
  if (Array.isArray(value)) return value.map(plain);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = plain(item);
    return out;
  }
  return value;
}

/** A short description of a value for error messages: `"maybe"`, `7`, `a list`, `a map`. */
export function describe(value: unknown): string {
  if (value instanceof TypedScalar) return value.text;
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (isRecord(value)) return 'a map';
  return String(value);
}
