/**
 * Go's time.Duration text format, as Distribution reads it from YAML: a sequence of decimal
 * numbers, each with an optional fraction and a unit (ns, us, µs, ms, s, m, h), with an optional
 * sign, e.g. "168h", "1h30m", "1.5h", "300ms". "0" alone needs no unit. A bare YAML integer
 * (not a string) is a count of nanoseconds, because go-yaml decodes integers straight into the
 * time.Duration's int64; durationToMs handles that case.
 */

const NANOS_PER_UNIT: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const COMPONENT = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/;

/** Nanoseconds for a Go duration string, or undefined when the text is not one. */
export function parseGoDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const match = COMPONENT.exec(rest);
    if (!match) return undefined;
    const [whole, intPart = '', fracPart, unit = ''] = match;
    if (intPart === '' && (fracPart === undefined || fracPart === '')) return undefined;
    const perUnit = NANOS_PER_UNIT[unit];
    if (perUnit === undefined) return undefined;
    const value = Number(`${intPart || '0'}.${fracPart || '0'}`);
    total += value * perUnit;
    rest = rest.slice(whole.length);
  }
  return sign * Math.round(total);
}

/**
 * Milliseconds for a duration as it appears in the configuration: a Go duration string, or a
 * number of nanoseconds. Undefined when the value is neither.
 */
export function durationToMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value / 1e6 : undefined;
  const nanos = parseGoDuration(value.trim());
  return nanos === undefined ? undefined : nanos / 1e6;
}
