import { readFileSync } from 'node:fs';

/** Berth's version, from package.json (one level above both src/ and dist/). */
export function berthVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
