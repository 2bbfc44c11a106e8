import { closeSync, openSync, writeSync } from 'node:fs';

/** Streams a float32 2-D array to a .npy file (format 1.0, little-endian, C order). */
export class NpyWriter {
  private readonly fd: number;
  private readonly expected: number;
  private written = 0;

  constructor(path: string, rows: number, cols: number) {
    this.fd = openSync(path, 'w');
    this.expected = rows * cols;
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
    const total = 10 + header.length + 1;
    header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
    const pre = Buffer.alloc(10);
    pre.write('\x93NUMPY', 0, 'latin1');
    pre[6] = 1;
    pre[7] = 0;
    pre.writeUInt16LE(header.length, 8);
    writeSync(this.fd, pre);
    writeSync(this.fd, Buffer.from(header, 'latin1'));
  }

  write(values: Float32Array): void {
    writeSync(this.fd, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    this.written += values.length;
  }

  close(): void {
    closeSync(this.fd);
    if (this.written !== this.expected) throw new Error(`npy: wrote ${this.written} values, header says ${this.expected}`);
  }
}

export function writeNpy(path: string, rows: Float32Array[], cols: number): void {
  const w = new NpyWriter(path, rows.length, cols);
  for (const r of rows) w.write(r);
  w.close();
}
