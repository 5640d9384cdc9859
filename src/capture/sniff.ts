import { CaptureFormatError } from './types.js';

export type SniffedFormat =
  | { format: 'gzip' }
  | { format: 'pcap'; byteOrder: 'LE' | 'BE'; nanosecond: boolean }
  | { format: 'pcapng'; byteOrder: 'LE' | 'BE' };

/** Bytes the sniffer wants before deciding: a whole classic pcap file header. */
export const SNIFF_LENGTH = 24;

/**
 * Decides the format from the first bytes only (never from the file name), or throws a
 * CaptureFormatError whose message says what the bytes look like instead.
 */
export function sniffFormat(head: Buffer, name: string): SniffedFormat {
  if (head.length === 0) throw new CaptureFormatError(`${name}: the input is empty`);
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return { format: 'gzip' };
  if (head.length < 4) {
    throw new CaptureFormatError(`${name}: not a pcap or pcapng file: it is only ${head.length} bytes long`);
  }
  const magic = head.readUInt32BE(0);
  // draft-ietf-opsawg-pcap §4: the magic is written in the writer's byte order.
  switch (magic) {
    case 0xa1b2c3d4:
      return pcap(head, name, 'BE', false);
    case 0xd4c3b2a1:
      return pcap(head, name, 'LE', false);
    case 0xa1b23c4d:
      return pcap(head, name, 'BE', true);
    case 0x4d3cb2a1:
      return pcap(head, name, 'LE', true);
    case 0x0a0d0d0a:
      return pcapng(head, name);
  }
  throw new CaptureFormatError(`${name}: not a pcap or pcapng file: it starts with ${hexStart(head)}${guess(head)}`);
}

function pcap(head: Buffer, name: string, byteOrder: 'LE' | 'BE', nanosecond: boolean): SniffedFormat {
  if (head.length < SNIFF_LENGTH) {
    throw new CaptureFormatError(
      `${name}: the pcap file ends inside its ${SNIFF_LENGTH}-byte file header (${head.length} bytes)`,
    );
  }
  return { format: 'pcap', byteOrder, nanosecond };
}

function pcapng(head: Buffer, name: string): SniffedFormat {
  // draft-ietf-opsawg-pcapng §4.1: the byte-order magic follows the block type and length.
  if (head.length < 12) {
    throw new CaptureFormatError(`${name}: the pcapng file ends inside its section header (${head.length} bytes)`);
  }
  const bom = head.readUInt32BE(8);
  if (bom === 0x1a2b3c4d) return { format: 'pcapng', byteOrder: 'BE' };
  if (bom === 0x4d3c2b1a) return { format: 'pcapng', byteOrder: 'LE' };
  throw new CaptureFormatError(
    `${name}: starts like pcapng but its byte-order magic is ${hexStart(head.subarray(8, 12))}, not 1a 2b 3c 4d`,
  );
}

function hexStart(head: Buffer): string {
  return [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** A hint at what the file is, for the usual mistakes (an HTML error page, a zip, a text log). */
function guess(head: Buffer): string {
  const start = head.subarray(0, Math.min(head.length, 16));
  if (start.subarray(0, 4).toString('latin1') === 'PK\x03\x04') return ' (a zip archive?)';
  if (start.subarray(0, 8).toString('latin1') === 'snoop\0\0\0') return ' (a snoop capture, not supported)';
  if (head.readUInt32BE(0) === 0xa1b2cd34 || head.readUInt32BE(0) === 0x34cdb2a1) {
    return ' (a modified-pcap capture, not supported)';
  }
  const printable = [...start].every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f));
  return printable ? ' (text?)' : '';
}
