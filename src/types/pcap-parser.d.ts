// Types for pcap-parser 0.2.1 (lib/pcap-parser.js), which ships none. Only what that file
// really does is described here.
declare module 'pcap-parser' {
  import type { EventEmitter } from 'node:events';

  export interface PcapGlobalHeader {
    magicNumber: number;
    majorVersion: number;
    minorVersion: number;
    gmtOffset: number;
    timestampAccuracy: number;
    snapshotLength: number;
    linkLayerType: number;
  }

  export interface PcapPacketHeader {
    timestampSeconds: number;
    /** Named for the microsecond format; the parser reads the field whatever its unit. */
    timestampMicroseconds: number;
    capturedLength: number;
    originalLength: number;
  }

  export interface PcapPacket {
    header: PcapPacketHeader;
    /** A slice of the parser's internal buffer. */
    data: Buffer;
  }

  /**
   * What the parser uses of its input: it calls pause() at once, resume() on the next tick,
   * and listens for 'data' (Buffers), 'error' and 'end'.
   */
  export interface PcapParserInput {
    on(event: 'data', listener: (chunk: Buffer) => void): unknown;
    on(event: 'error', listener: (err: Error) => void): unknown;
    on(event: 'end', listener: () => void): unknown;
    pause(): unknown;
    resume(): unknown;
  }

  export interface PcapParser extends EventEmitter {
    on(event: 'globalHeader', listener: (header: PcapGlobalHeader) => void): this;
    on(event: 'packetHeader', listener: (header: PcapPacketHeader) => void): this;
    on(event: 'packetData', listener: (data: Buffer) => void): this;
    on(event: 'packet', listener: (packet: PcapPacket) => void): this;
    on(event: 'end', listener: () => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
  }

  /** A string is opened with fs.createReadStream; anything else is used as a stream. */
  export function parse(input: string | PcapParserInput): PcapParser;

  const pcapParser: { parse: typeof parse };
  export default pcapParser;
}
