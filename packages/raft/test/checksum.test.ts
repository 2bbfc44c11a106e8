import { describe, expect, it } from 'vitest';
import { crc32, crc32Table, entryChecksum } from '../src/checksum.ts';

describe('crc32', () => {
  it('is the IEEE crc32: the standard check value of "123456789"', () => {
    const bytes = new TextEncoder().encode('123456789');
    expect(crc32(bytes)).toBe(0xcbf43926);
    expect(crc32Table(bytes)).toBe(0xcbf43926);
  });

  it('gives the table-driven value for every length and seed, chained or not', () => {
    let s = 7;
    for (const length of [0, 1, 3, 17, 255, 4096, 65_537]) {
      const bytes = new Uint8Array(length);
      for (let i = 0; i < length; i++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        bytes[i] = s >>> 24;
      }
      for (const seed of [0, 1, 0xffffffff, 0x12345678]) expect(crc32(bytes, seed)).toBe(crc32Table(bytes, seed));
      const half = length >> 1;
      expect(crc32(bytes.subarray(half), crc32(bytes.subarray(0, half)))).toBe(crc32Table(bytes));
    }
  });

  it('covers the entry identity as well as the payload', () => {
    const payload = new Uint8Array([1, 2, 3]);
    const base = entryChecksum(5, 2, 1, payload);
    expect(entryChecksum(6, 2, 1, payload)).not.toBe(base);
    expect(entryChecksum(5, 3, 1, payload)).not.toBe(base);
    expect(entryChecksum(5, 2, 2, payload)).not.toBe(base);
    expect(entryChecksum(5, 2, 1, new Uint8Array([1, 2, 4]))).not.toBe(base);
  });
});
