/**
 * Page-aligned memory, for writes past the page cache (direct-writes.ts): `O_DIRECT` runs at disk
 * speed only from page-aligned memory, and Node gives no addresses. A WebAssembly memory starts on
 * a page, so buffers cut from one at multiples of a page are aligned, and recognised as such by the
 * memory they belong to. Its pages become resident only once written, and it is freed whole when
 * nothing refers to any of its buffers any more.
 */

/** A page: what file offsets, lengths and memory of direct writes are aligned to (right for 512e and 4Kn disks). */
export const PAGE = 4096;
/** WebAssembly's page: 64 KiB. */
const WASM_PAGE = 64 * 1024;

/** The memories buffers were cut from. */
const alignedMemories = new WeakSet<ArrayBufferLike>();

/**
 * `count` buffers of `size` bytes (a multiple of PAGE), each page-aligned, from one memory; undefined
 * where WebAssembly is not available (node --jitless).
 */
export function alignedBuffers(count: number, size: number): Buffer[] | undefined {
  if (size % PAGE !== 0) throw new RangeError(`aligned buffers of ${size} bytes: not a multiple of ${PAGE}`);
  let memory: WebAssembly.Memory;
  try {
    const pages = Math.ceil((count * size) / WASM_PAGE);
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  } catch {
    return undefined;
  }
  alignedMemories.add(memory.buffer);
  const whole = Buffer.from(memory.buffer);
  return Array.from({ length: count }, (_, i) => whole.subarray(i * size, (i + 1) * size));
}

/** Whether `bytes` starts on a page (it lies in a buffer from alignedBuffers, at a multiple of PAGE). */
export function pageAligned(bytes: Uint8Array): boolean {
  return bytes.byteOffset % PAGE === 0 && alignedMemories.has(bytes.buffer);
}
