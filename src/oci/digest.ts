import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.js';

/** Algorithms the registry accepts, with the length of their hex encoding. */
export const DigestAlgorithms = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DigestAlgorithms;

/** A validated content digest, `<algorithm>:<lowercase hex>`. */
export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
  readonly value: string;
}

// The spec's grammar (algorithm ":" encoded) is wider than what we can verify; we accept only the
// registered algorithms with their exact encodings, and answer anything else with DIGEST_INVALID.
const DIGEST = new RegExp(`^(?:${Object.entries(DigestAlgorithms).map(([alg, length]) => `${alg}:[a-f0-9]{${length}}`).join('|')})$`);

export function tryParseDigest(value: string): Digest | undefined {
  if (!DIGEST.test(value)) return undefined;
  const colon = value.indexOf(':');
  return { algorithm: value.slice(0, colon) as DigestAlgorithm, hex: value.slice(colon + 1), value };
}

export function parseDigest(value: string): Digest {
  const d = tryParseDigest(value);
  if (!d) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest: value });
  return d;
}

export function isDigestLike(value: string): boolean {
  return value.includes(':');
}

export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest {
  const hex = createHash(algorithm).update(data).digest('hex');
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}

/** Hashes bytes as they pass; `digest()` may be called once at the end. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  size = 0;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.length;
  }

  digest(): Digest {
    const hex = this.hash.digest('hex');
    return { algorithm: this.algorithm, hex, value: `${this.algorithm}:${hex}` };
  }

  /** An independent copy of the running state (Node's Hash.copy). */
  copy(): Digester {
    const c = Object.create(Digester.prototype) as Digester;
    Object.assign(c, { algorithm: this.algorithm, hash: this.hash.copy(), size: this.size });
    return c;
  }
}
