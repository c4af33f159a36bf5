/** Rendering for the client verbs: JSON documents, aligned tables, sizes and short digests. */
export { humanSize, shortDigest } from '../../human.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLines(lines: Iterable<string>): void {
  let out = '';
  for (const l of lines) out += `${l}\n`;
  process.stdout.write(out);
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd()).join('\n') + '\n';
}

/** What a descriptor's media type is, in a word (layer, config, index, manifest, …). */
export function kindOf(mediaType: string): string {
  if (/manifest\.list|image\.index/.test(mediaType)) return 'index';
  if (/manifest/.test(mediaType)) return 'manifest';
  if (/config|container\.image/.test(mediaType)) return 'config';
  if (/layer|rootfs/.test(mediaType)) return 'layer';
  return 'blob';
}
