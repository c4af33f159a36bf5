/**
 * Sizes and digests written for people, one way wherever Berth shows them: the command's tables,
 * lines and progress bars, and the web UI's pages. Binary units (KiB, MiB, GiB), the units of
 * Distribution's configuration and of `berth quota`, so that a size reads the same in the
 * terminal and in the browser. The web UI's browser bundle includes this module: it imports
 * nothing (esbuild builds the bundle for the browser and would refuse a Node module).
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `512 B`, `2.9 KiB`, `12.0 MiB`, `143 MiB`: one decimal below 100 of a unit. */
export function humanSize(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${UNITS[u]}`;
}

/** `sha256:0123456789ab`: enough to tell blobs apart on a line. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return digest.slice(0, colon + 13);
}
