/**
 * Builds pcapng blocks for tests, field by field from draft-ietf-opsawg-pcapng §4, so the
 * reader is tested against the spec's layout rather than against itself.
 */
export type ByteOrder = 'LE' | 'BE';

class Fields {
  private readonly parts: Buffer[] = [];
  constructor(private readonly order: ByteOrder) {}
  u16(value: number): this {
    const b = Buffer.alloc(2);
    if (this.order === 'LE') b.writeUInt16LE(value);
    else b.writeUInt16BE(value);
    this.parts.push(b);
    return this;
  }
  u32(value: number): this {
    const b = Buffer.alloc(4);
    if (this.order === 'LE') b.writeUInt32LE(value >>> 0);
    else b.writeUInt32BE(value >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(value: bigint): this {
    const b = Buffer.alloc(8);
    if (this.order === 'LE') b.writeBigUInt64LE(BigInt.asUintN(64, value));
    else b.writeBigUInt64BE(BigInt.asUintN(64, value));
    this.parts.push(b);
    return this;
  }
  bytes(data: Uint8Array): this {
    this.parts.push(Buffer.from(data));
    const pad = (4 - (data.length % 4)) % 4;
    if (pad > 0) this.parts.push(Buffer.alloc(pad));
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface Option {
  code: number;
  value: Uint8Array;
}

function options(order: ByteOrder, opts: Option[]): Buffer {
  if (opts.length === 0) return Buffer.alloc(0);
  const f = new Fields(order);
  for (const o of opts) f.u16(o.code).u16(o.value.length).bytes(o.value);
  return f.u16(0).u16(0).done();
}

/** A whole block: type, total length, body, total length again. */
export function block(order: ByteOrder, type: number, body: Uint8Array): Buffer {
  const length = 12 + body.length;
  return new Fields(order).u32(type).u32(length).bytes(body).u32(length).done();
}

export function sectionHeader(order: ByteOrder, major = 1): Buffer {
  const body = new Fields(order).u32(0x1a2b3c4d).u16(major).u16(0).u64(-1n).done();
  return block(order, 0x0a0d0d0a, body);
}

export function interfaceDescription(
  order: ByteOrder,
  linkType: number,
  snapLength: number,
  opts: { tsresol?: number; tsoffset?: bigint } = {},
): Buffer {
  const list: Option[] = [];
  if (opts.tsresol !== undefined) list.push({ code: 9, value: Uint8Array.of(opts.tsresol) });
  if (opts.tsoffset !== undefined) list.push({ code: 14, value: new Fields(order).u64(opts.tsoffset).done() });
  const body = Buffer.concat([new Fields(order).u16(linkType).u16(0).u32(snapLength).done(), options(order, list)]);
  return block(order, 1, body);
}

export function enhancedPacket(
  order: ByteOrder,
  interfaceId: number,
  units: bigint,
  data: Uint8Array,
  originalLength = data.length,
): Buffer {
  const body = new Fields(order)
    .u32(interfaceId)
    .u32(Number(units >> 32n))
    .u32(Number(units & 0xffffffffn))
    .u32(data.length)
    .u32(originalLength)
    .bytes(data)
    .done();
  return block(order, 6, body);
}

export function simplePacket(order: ByteOrder, originalLength: number, data: Uint8Array): Buffer {
  return block(order, 3, new Fields(order).u32(originalLength).bytes(data).done());
}

export function obsoletePacket(order: ByteOrder, interfaceId: number, units: bigint, data: Uint8Array): Buffer {
  const body = new Fields(order)
    .u16(interfaceId)
    .u16(0)
    .u32(Number(units >> 32n))
    .u32(Number(units & 0xffffffffn))
    .u32(data.length)
    .u32(data.length)
    .bytes(data)
    .done();
  return block(order, 2, body);
}
