import { z } from 'zod';
import { durationToMs } from './duration.js';
import { describe, isRecord, plain, TypedScalar } from './yaml.js';

/**
 * The zod schema of Distribution's configuration file (version 0.1), over the tree produced by
 * yaml.ts. Leaves convert values the way go-yaml would into the Go field's type and report a
 * one-line problem otherwise; sections report keys they do not know as warnings (Distribution
 * decodes YAML non-strictly and ignores them silently; a warning keeps typos visible without
 * refusing configurations that Distribution accepts). Defaults and cross-field rules live in
 * build.ts; this file only says what each key may hold.
 */

type Ctx = z.RefinementCtx;

export function keyPath(path: readonly (string | number)[]): string {
  return path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${part}` : part), '');
}

function fail(ctx: Ctx, message: string): typeof z.NEVER {
  ctx.addIssue({ code: z.ZodIssueCode.custom, message });
  return z.NEVER;
}

const absent = (v: unknown): v is null | undefined => v === null || v === undefined;

/** A string setting: plain numbers and booleans keep their source text, as go-yaml does. */
export const str = () =>
  z.unknown().transform((v, ctx): string | undefined => {
    if (absent(v)) return undefined;
    if (typeof v === 'string') return v;
    if (v instanceof TypedScalar) return v.text;
    return fail(ctx, `expected a string, got ${describe(v)}`);
  });

export const bool = () =>
  z.unknown().transform((v, ctx): boolean | undefined => {
    if (absent(v)) return undefined;
    if (v instanceof TypedScalar && typeof v.value === 'boolean') return v.value;
    if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
    return fail(ctx, `invalid boolean ${describe(v)} (expected true or false)`);
  });

export const int = () =>
  z.unknown().transform((v, ctx): number | undefined => {
    if (absent(v)) return undefined;
    if (v instanceof TypedScalar && typeof v.value === 'number' && Number.isInteger(v.value)) return v.value;
    if (typeof v === 'string' && /^[+-]?\d+$/.test(v.trim())) return Number(v);
    return fail(ctx, `invalid integer ${describe(v)}`);
  });

/** A Go duration ("1h30m"), or a bare integer of nanoseconds; in milliseconds. */
export const duration = () =>
  z.unknown().transform((v, ctx): number | undefined => {
    if (absent(v)) return undefined;
    const raw = v instanceof TypedScalar ? (typeof v.value === 'number' ? v.value : undefined) : typeof v === 'string' ? v : undefined;
    const ms = raw === undefined ? undefined : durationToMs(raw);
    if (ms === undefined) return fail(ctx, `invalid duration ${describe(v)}`);
    if (ms < 0) return fail(ctx, `invalid duration ${describe(v)} (must not be negative)`);
    return ms;
  });

/** A list of strings; a single string is taken as a one-item list. */
export const strList = () =>
  z.unknown().transform((v, ctx): string[] | undefined => {
    if (absent(v)) return undefined;
    const items = Array.isArray(v) ? v : [v];
    const out: string[] = [];
    items.forEach((item, i) => {
      if (typeof item === 'string') out.push(item);
      else if (item instanceof TypedScalar) out.push(item.text);
      else ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a string, got ${describe(item)}`, path: Array.isArray(v) ? [i] : [] });
    });
    return out;
  });

/** A free-form map kept as plain data (driver parameters, log fields, unimplemented sections). */
export const rawMap = () =>
  z.unknown().transform((v, ctx): Record<string, unknown> | undefined => {
    if (absent(v)) return undefined;
    if (!isRecord(v)) return fail(ctx, `expected a map, got ${describe(v)}`);
    return plain(v) as Record<string, unknown>;
  });

/** Any value, kept as plain data. */
export const raw = () => z.unknown().transform((v) => plain(v));

/**
 * A structured section: null or absent reads as empty; a non-map is an error; keys outside
 * `shape` are dropped with a warning.
 */
export function section<T extends z.ZodRawShape>(shape: T, warn: (message: string) => void) {
  return z
    .unknown()
    .transform((v, ctx): Record<string, unknown> => {
      if (absent(v)) return {};
      if (!isRecord(v)) return fail(ctx, `expected a map, got ${describe(v)}`);
      for (const key of Object.keys(v)) {
        if (!(key in shape)) warn(`${keyPath([...ctx.path, key])}: unknown key, ignored`);
      }
      return v;
    })
    .pipe(z.object(shape));
}

/** HTTP headers: header name → one or more values. */
export const headers = () =>
  z.unknown().transform((v, ctx): Record<string, string[]> => {
    if (absent(v)) return {};
    if (!isRecord(v)) return fail(ctx, `expected a map of header names to lists of values, got ${describe(v)}`);
    const out: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(v)) {
      const values = absent(value) ? [] : Array.isArray(value) ? value : [value];
      const texts: string[] = [];
      for (const item of values) {
        if (typeof item === 'string') texts.push(item);
        else if (item instanceof TypedScalar) texts.push(item.text);
        else return fail(ctx, `header ${name}: expected a list of strings, got ${describe(value)}`);
      }
      out[name] = texts;
    }
    return out;
  });

/** Builds the schema of the whole file; `warn` collects non-fatal findings. */
export function configSchema(warn: (message: string) => void) {
  const sec = <T extends z.ZodRawShape>(shape: T) => section(shape, warn);
  const storageSettings = {
    delete: sec({ enabled: bool() }),
    redirect: sec({ disable: bool() }),
    cache: sec({ blobdescriptor: str(), layerinfo: str(), blobdescriptorsize: int() }),
    maintenance: sec({
      uploadpurging: z.union([z.undefined(), z.null(), sec({ enabled: bool(), age: duration(), interval: duration(), dryrun: bool() })]),
      readonly: sec({ enabled: bool() }),
    }),
    tag: sec({ concurrencylimit: int() }),
  };
  const storage = z
    .unknown()
    .transform((v, ctx): Record<string, unknown> => {
      if (absent(v)) return {};
      if (typeof v === 'string') return { [v]: null };
      if (!isRecord(v)) return fail(ctx, `expected a map with one storage driver, got ${describe(v)}`);
      return v;
    })
    .pipe(z.object(storageSettings).catchall(rawMap()));

  return sec({
    version: z.unknown(),
    loglevel: str(),
    log: sec({
      level: str(),
      formatter: str(),
      fields: rawMap(),
      accesslog: sec({ disabled: bool() }),
      hooks: raw(),
      reportcaller: bool(),
    }),
    storage,
    http: sec({
      addr: str(),
      net: str(),
      prefix: str(),
      host: str(),
      secret: str(),
      relativeurls: bool(),
      draintimeout: duration(),
      headers: headers(),
      tls: sec({
        certificate: str(),
        key: str(),
        clientcas: strList(),
        clientauth: str(),
        minimumtls: str(),
        ciphersuites: strList(),
        letsencrypt: rawMap(),
      }),
      debug: sec({ addr: str(), prometheus: sec({ enabled: bool(), path: str() }) }),
      http2: sec({ disabled: bool() }),
      h2c: sec({ enabled: bool() }),
    }),
    validation: sec({
      enabled: bool(),
      disabled: bool(),
      manifests: sec({ urls: sec({ allow: strList(), deny: strList() }), indexes: rawMap() }),
    }),
    auth: z.unknown().transform((v, ctx): Record<string, unknown> | undefined => {
      if (absent(v)) return undefined;
      if (typeof v === 'string') return { [v]: {} };
      if (!isRecord(v)) return fail(ctx, `expected a map with one access controller, got ${describe(v)}`);
      return plain(v) as Record<string, unknown>;
    }),
    notifications: rawMap(),
    redis: rawMap(),
    health: rawMap(),
    proxy: rawMap(),
    middleware: rawMap(),
    compatibility: rawMap(),
    catalog: sec({ maxentries: int() }),
    reporting: rawMap(),
    policy: rawMap(),
    berth: rawMap(),
  });
}

export type ParsedFile = z.output<ReturnType<typeof configSchema>>;
