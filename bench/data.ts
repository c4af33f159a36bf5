/**
 * Test data: random bytes generated once per run, kept in memory (push clients send from there, so
 * the client's disk reads are no part of a push) and written to a file (nginx serves it as the
 * pull limit). The SHA-256 state of every prefix the scenarios push is kept aside, so a unique
 * blob (prefix + a short suffix) gets its digest without hashing the prefix again.
 */
import { createHash, randomFillSync, type Hash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

export interface DataFile {
  path: string;
  size: number;
  /** The same bytes as the file. */
  bytes: Buffer;
  /** Digest of bytes [0, length) followed by `suffix`; `length` must be one of the prefixes asked for. */
  digest(length: number, suffix?: Buffer): string;
}

const BLOCK = 4 << 20;

export function generateDataFile(path: string, size: number, prefixes: number[]): DataFile {
  const states = new Map<number, Hash>();
  const wanted = [...new Set(prefixes)].filter((p) => p <= size).sort((a, b) => a - b);
  const hash = createHash('sha256');
  const bytes = Buffer.allocUnsafeSlow(size);
  const fd = openSync(path, 'w');
  try {
    let written = 0;
    while (written < size) {
      // Stop each block at the next prefix boundary so its hash state can be copied exactly there.
      const boundary = wanted.find((p) => p > written) ?? size;
      const n = Math.min(BLOCK, boundary - written, size - written);
      const chunk = bytes.subarray(written, written + n);
      randomFillSync(chunk);
      writeSync(fd, chunk);
      hash.update(chunk);
      written += n;
      if (wanted.includes(written)) states.set(written, hash.copy());
    }
  } finally {
    closeSync(fd);
  }
  if (wanted.includes(0)) states.set(0, createHash('sha256'));
  return {
    path,
    size,
    bytes,
    digest(length: number, suffix?: Buffer): string {
      const state = states.get(length);
      if (!state) throw new Error(`no hash state kept for prefix ${length}`);
      const h = state.copy();
      if (suffix) h.update(suffix);
      return `sha256:${h.digest('hex')}`;
    },
  };
}

/** A fixed-width tag making a blob unique per server, repetition and scenario. */
export function uniqueSuffix(label: string): Buffer {
  const b = Buffer.alloc(32, 0x20);
  b.write(label.slice(0, 32), 'latin1');
  return b;
}
