import { X509Certificate, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint } from 'jose';
import { ConfigError } from '../config/errors.js';

/**
 * The keys a token may be signed with, each reachable by every key id a token issuer might put in
 * `kid`: the RFC 7638 JWK thumbprint, the libtrust fingerprint older issuers (docker_auth, Docker's
 * own) use, and a JWKS entry's own `kid`. Root certificates also anchor `x5c` chains.
 */
export class TrustedKeys {
  readonly byId = new Map<string, KeyObject>();
  readonly roots: X509Certificate[] = [];

  async addCertificates(path: string, key: string): Promise<void> {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`${key}: cannot read ${path}: ${(err as Error).message}`);
    }
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    for (const pem of blocks) {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(pem);
      } catch (err) {
        throw new ConfigError(`${key}: ${path} holds a certificate that cannot be parsed: ${(err as Error).message}`);
      }
      this.roots.push(cert);
      await this.addKey(cert.publicKey);
    }
  }

  async addJwks(path: string, key: string): Promise<void> {
    let keys: unknown;
    try {
      keys = (JSON.parse(readFileSync(path, 'utf8')) as { keys?: unknown }).keys;
    } catch (err) {
      throw new ConfigError(`${key}: cannot read a JWK set from ${path}: ${(err as Error).message}`);
    }
    if (!Array.isArray(keys)) throw new ConfigError(`${key}: ${path} has no "keys" list`);
    for (const jwk of keys as Array<Record<string, unknown>>) {
      let obj: KeyObject;
      try {
        obj = createPublicKey({ key: jwk as never, format: 'jwk' });
      } catch (err) {
        throw new ConfigError(`${key}: ${path} holds a key that cannot be used: ${(err as Error).message}`);
      }
      await this.addKey(obj, typeof jwk.kid === 'string' ? jwk.kid : undefined);
    }
  }

  async addKey(publicKey: KeyObject, kid?: string): Promise<string> {
    const thumbprint = await calculateJwkThumbprint(publicKey);
    this.byId.set(thumbprint, publicKey);
    this.byId.set(libtrustKeyId(publicKey), publicKey);
    if (kid) this.byId.set(kid, publicKey);
    return thumbprint;
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * The leaf key of an `x5c` chain (base64 DER, leaf first) that leads to one of the roots, each
   * certificate valid now and signed by the next. Undefined when the chain does not verify.
   */
  verifyChain(x5c: unknown): KeyObject | undefined {
    if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > 8 || !x5c.every((c) => typeof c === 'string')) return undefined;
    let chain: X509Certificate[];
    try {
      chain = (x5c as string[]).map((der) => new X509Certificate(Buffer.from(der, 'base64')));
    } catch {
      return undefined;
    }
    const now = Date.now();
    const valid = (c: X509Certificate) => Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
    if (!chain.every(valid)) return undefined;
    for (let i = 0; i + 1 < chain.length; i++) {
      if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) return undefined;
    }
    const top = chain[chain.length - 1]!;
    const anchored = this.roots.some(
      (root) => valid(root) && (root.fingerprint256 === top.fingerprint256 || (top.checkIssued(root) && top.verify(root.publicKey))),
    );
    return anchored ? chain[0]!.publicKey : undefined;
  }
}

/** libtrust's key id: base32 of the first 240 bits of sha256(SPKI DER), in groups of four, joined by ":". */
export function libtrustKeyId(key: KeyObject): string {
  const digest = createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}
