// How sizes, times and digests are written on the pages.

/** Sizes and short digests as the command line writes them (binary units). */
export { humanSize as bytes, shortDigest } from '../human.js';

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const STEPS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Infinity],
];

/** "3 days ago"; the exact time goes in the element's title. */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  let v = (t - now) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(v) < size) return relative.format(Math.round(v), unit);
    v /= size;
  }
  return iso;
}

/** The title of a creation time: the exact time, or that the image records none (the server reports an epoch-0 time as none). */
export function createdTitle(iso: string | null): string {
  return exact(iso) ?? 'not recorded in the image';
}

export function exact(iso: string | null): string | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toLocaleString();
}

export function platformName(p: { os: string | null; architecture: string | null; variant: string | null }): string {
  return [p.os ?? '?', p.architecture ?? '?', p.variant].filter(Boolean).join('/');
}

/** "once", "twice", "5 times" */
export function pullCount(n: number): string {
  return n === 1 ? 'once' : n === 2 ? 'twice' : `${n.toLocaleString('en-US')} times`;
}
