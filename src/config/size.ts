/**
 * Byte sizes as the configuration writes them: a plain number of bytes, or a number with a unit.
 * Decimal units are powers of 1000 (kB/KB, MB, GB, TB, PB), binary ones powers of 1024 (KiB, MiB,
 * GiB, TiB, PiB); units are read case-insensitively ("10gib" is 10 GiB) and "B" may be left out
 * ("10G" is 10 GB). A fraction is allowed ("1.5GiB"); the result is rounded down to whole bytes.
 */

const UNITS: Record<string, number> = { '': 1, b: 1 };
for (const [i, letter] of ['k', 'm', 'g', 't', 'p'].entries()) {
  UNITS[letter] = UNITS[`${letter}b`] = 1000 ** (i + 1);
  UNITS[`${letter}ib`] = 1024 ** (i + 1);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/** Bytes for a size text or number; undefined when it is not one (negative, unknown unit, not finite). */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  const m = SIZE.exec(value.trim());
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A size for people: bytes in the largest binary unit that keeps the number at or above 1 ("9.5 MiB"). */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let i = 0;
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, '')} ${units[i]}`;
}
