/**
 * Platforms as an image index names them (`platform` of a descriptor) and as people write them:
 * `os/architecture[/variant]`, e.g. `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`.
 */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

const PART = /^[a-z0-9._-]+$/;

export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => PART.test(p))) {
    throw new Error(`invalid platform ${JSON.stringify(text)} (write os/architecture[/variant], e.g. linux/amd64)`);
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** A descriptor's `platform` field when it is well formed (os and architecture strings). */
export function platformOf(v: unknown): Platform | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const p = v as Record<string, unknown>;
  if (typeof p.os !== 'string' || typeof p.architecture !== 'string') return undefined;
  const out: Platform = { os: p.os, architecture: p.architecture };
  if (typeof p.variant === 'string') out.variant = p.variant;
  if (typeof p['os.version'] === 'string') out['os.version'] = p['os.version'];
  if (Array.isArray(p['os.features']) && p['os.features'].every((f) => typeof f === 'string')) out['os.features'] = p['os.features'] as string[];
  return out;
}

// Variants that mean the same when absent (the image spec's platform variants table).
const DEFAULT_VARIANT: Record<string, string> = { arm64: 'v8', arm: 'v7' };

/** Whether `candidate` satisfies `wanted`: same os and architecture, and the variant if one is asked for. */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  if (wanted.os !== candidate.os || wanted.architecture !== candidate.architecture) return false;
  if (!wanted.variant) return true;
  const def = DEFAULT_VARIANT[candidate.architecture];
  return (candidate.variant ?? def) === wanted.variant;
}

/** Node's `process.platform`/`process.arch` in OCI's words (GOOS/GOARCH). */
export function nodePlatform(platform: string, arch: string): Platform {
  const architecture = ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[arch] ?? arch;
  const os = platform === 'win32' ? 'windows' : platform;
  return { os, architecture };
}
