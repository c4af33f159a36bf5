// How sizes, times and digests are written on the pages.

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Decimal units, as docker and podman print image sizes. */
export function bytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[u]}`;
}

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

export function exact(iso: string | null): string | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toLocaleString();
}

/** "sha256:0123456789ab" */
export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  return i === -1 ? digest.slice(0, 12) : digest.slice(0, i + 13);
}

export function platformName(p: { os: string | null; architecture: string | null; variant: string | null }): string {
  return [p.os ?? '?', p.architecture ?? '?', p.variant].filter(Boolean).join('/');
}

/** "once", "twice", "5 times" */
export function pullCount(n: number): string {
  return n === 1 ? 'once' : n === 2 ? 'twice' : `${n.toLocaleString('en-US')} times`;
}
