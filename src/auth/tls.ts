import { readFileSync } from 'node:fs';
import type https from 'node:https';
import { DEFAULT_CIPHERS, type TLSSocket } from 'node:tls';
import { ConfigError } from '../config/errors.js';
import type { HttpConfig } from '../config/types.js';

/**
 * `http.tls` as Node's TLS server options: certificate and key, `minimumtls` (default TLS 1.2, as
 * Distribution), `ciphersuites` (Go's names, as Distribution's config lists them, or OpenSSL's),
 * and `clientcas` with `clientauth` for mutual TLS.
 */
export function tlsServerOptions(tls: NonNullable<HttpConfig['tls']>): https.ServerOptions {
  const versions = { 'tls1.0': 'TLSv1', 'tls1.1': 'TLSv1.1', 'tls1.2': 'TLSv1.2', 'tls1.3': 'TLSv1.3' } as const;
  const read = (file: string, key: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${key}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const mode = clientAuthMode(tls);
  // OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level (their handshakes sign with
  // SHA-1): asked for them, the listener lowers the level to 0, and only then.
  const legacy = tls.minimumtls === 'tls1.0' || tls.minimumtls === 'tls1.1';
  const ciphers = tls.ciphersuites?.length ? opensslCiphers(tls.ciphersuites) : legacy ? DEFAULT_CIPHERS : undefined;
  return {
    cert: read(tls.certificate, 'http.tls.certificate'),
    key: read(tls.key, 'http.tls.key'),
    minVersion: versions[tls.minimumtls ?? 'tls1.2'],
    ...(tls.clientcas?.length ? { ca: tls.clientcas.map((f) => read(f, 'http.tls.clientcas')) } : {}),
    requestCert: mode !== 'no-client-cert',
    // Only the strict mode can be left to the handshake; the others are checked on connection.
    rejectUnauthorized: mode === 'require-and-verify-client-cert',
    ...(ciphers ? { ciphers: legacy ? `${ciphers}:@SECLEVEL=0` : ciphers } : {}),
  };
}

const CLIENT_AUTH_MODES = ['no-client-cert', 'request-client-cert', 'require-any-client-cert', 'verify-client-cert-if-given', 'require-and-verify-client-cert'] as const;
type ClientAuthMode = (typeof CLIENT_AUTH_MODES)[number];

/** Distribution: with clientcas the default is require-and-verify-client-cert; without, no client certificate. */
function clientAuthMode(tls: NonNullable<HttpConfig['tls']>): ClientAuthMode {
  if (!tls.clientauth) return tls.clientcas?.length ? 'require-and-verify-client-cert' : 'no-client-cert';
  const mode = CLIENT_AUTH_MODES.find((m) => m === tls.clientauth);
  if (!mode) throw new ConfigError(`http.tls.clientauth: unknown mode "${tls.clientauth}" (expected ${CLIENT_AUTH_MODES.join(', ')})`);
  if ((mode === 'verify-client-cert-if-given' || mode === 'require-and-verify-client-cert') && !tls.clientcas?.length) {
    throw new ConfigError(`http.tls.clientauth: ${mode} needs http.tls.clientcas`);
  }
  return mode;
}

/** Closes connections the handshake let through but `clientauth` does not allow. */
export function enforceClientAuth(server: https.Server, tls: NonNullable<HttpConfig['tls']>): void {
  const mode = clientAuthMode(tls);
  if (mode !== 'require-any-client-cert' && mode !== 'verify-client-cert-if-given') return;
  server.on('secureConnection', (socket: TLSSocket) => {
    const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
    if (mode === 'require-any-client-cert' && !presented) socket.destroy();
    if (mode === 'verify-client-cert-if-given' && presented && !socket.authorized) socket.destroy();
  });
}

/** Go's cipher suite names → OpenSSL's. TLS 1.3 suites have the same name in both. */
const GO_TO_OPENSSL: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
};

export function opensslCiphers(names: readonly string[]): string {
  return names
    .map((name) => {
      const mapped = GO_TO_OPENSSL[name] ?? (/^[A-Z0-9]+(?:-[A-Z0-9]+)+$/.test(name) ? name : undefined);
      if (!mapped) throw new ConfigError(`http.tls.ciphersuites: unknown cipher suite "${name}"`);
      return mapped;
    })
    .join(':');
}
