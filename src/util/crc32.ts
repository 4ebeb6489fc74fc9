/**
 * CRC-32 (IEEE 802.3, as zip and gzip use), slicing-by-8: ~2.5× the byte-at-a-time table loop, which
 * matters because every segment is checked on open. Browser-safe (node:zlib has crc32 only from Node 20.15).
 * `prev` continues a running checksum: crc32(b, crc32(a)) === crc32(a ‖ b).
 */
let table: Int32Array | undefined;

function tables(): Int32Array {
  if (table) return table;
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return (table = t);
}

export function crc32(d: Uint8Array, prev = 0): number {
  const T = tables();
  let c = ~prev;
  let i = 0;
  for (const n = d.length - 7; i < n; i += 8) {
    const a = (d[i] | (d[i + 1] << 8) | (d[i + 2] << 16) | (d[i + 3] << 24)) ^ c;
    const b = d[i + 4] | (d[i + 5] << 8) | (d[i + 6] << 16) | (d[i + 7] << 24);
    c =
      T[1792 + (a & 0xff)] ^
      T[1536 + ((a >>> 8) & 0xff)] ^
      T[1280 + ((a >>> 16) & 0xff)] ^
      T[1024 + (a >>> 24)] ^
      T[768 + (b & 0xff)] ^
      T[512 + ((b >>> 8) & 0xff)] ^
      T[256 + ((b >>> 16) & 0xff)] ^
      T[b >>> 24];
  }
  for (; i < d.length; i++) c = T[(c ^ d[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
