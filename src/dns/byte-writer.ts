// dns2's Packet.Writer interface over bytes. dns2's own writer keeps one array element per
// bit and joins them into a string per byte in toBuffer(), which was most of the time spent
// answering a query the answer cache does not hold. The output is the same, bit for bit.

export class ByteWriter {
  private bytes = new Uint8Array(512);
  private bits = 0;
  /** set by dns2's Packet.toBuffer: name suffix -> byte offset, for compression pointers */
  names?: Map<string, number>;

  write(value: number, size: number): void {
    this.put(this.bits, value, size);
    this.bits += size;
  }

  /** Overwrites `size` bits at `bitOffset` (dns2 back-fills RDLENGTH this way). */
  patch(bitOffset: number, value: number, size: number): void {
    this.put(bitOffset, value, size);
  }

  bitLength(): number {
    return this.bits;
  }

  byteLength(): number {
    return this.bits / 8;
  }

  /** The bytes written so far; like dns2's, a trailing partial byte holds its bits unshifted. */
  toBuffer(): Buffer {
    const whole = this.bits >> 3;
    const rest = this.bits & 7;
    const out = Buffer.allocUnsafe(whole + (rest ? 1 : 0));
    out.set(this.bytes.subarray(0, whole));
    if (rest) out[whole] = this.bytes[whole] >> (8 - rest);
    return out;
  }

  private put(bitOffset: number, value: number, size: number): void {
    const end = (bitOffset + size + 7) >> 3;
    if (end > this.bytes.length) {
      const grown = new Uint8Array(Math.max(end, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    if ((bitOffset & 7) === 0 && (size & 7) === 0 && size <= 32) {
      // whole bytes, big-endian: the low `size` bits of the value, as dns2 takes them
      for (let k = 0, at = bitOffset >> 3; k < size; k += 8, at++) this.bytes[at] = (value >>> (size - 8 - k)) & 0xff;
      return;
    }
    for (let i = 0; i < size; i++) {
      const bit = value & (2 ** (size - i - 1)) ? 1 : 0;
      const at = (bitOffset + i) >> 3;
      const mask = 0x80 >> ((bitOffset + i) & 7);
      this.bytes[at] = bit ? this.bytes[at] | mask : this.bytes[at] & ~mask;
    }
  }
}
