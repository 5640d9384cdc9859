import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seqAdd } from '../../src/net/seq.js';
import { TcpReassembler, type FlowEvent } from '../../src/net/tcp-reassembler.js';
import type { TcpFlags, TcpSegment } from '../../src/net/types.js';
import { bytes, concat } from './packet-builder.js';
import { runs } from '../helpers/fuzz.js';

const CLIENT = { ip: '10.0.0.1', port: 50000 };
const SERVER = { ip: '10.0.0.2', port: 80 };

interface SegmentInput {
  seq: number;
  ack?: number;
  flags?: string;
  payload?: Uint8Array | string;
  missing?: number;
}

function flagsOf(letters: string): TcpFlags {
  return {
    syn: letters.includes('S'),
    ack: letters.includes('A'),
    fin: letters.includes('F'),
    rst: letters.includes('R'),
    psh: letters.includes('P'),
    urg: false,
  };
}

function segment(from: 'client' | 'server', input: SegmentInput): TcpSegment {
  const [a, b] = from === 'client' ? [CLIENT, SERVER] : [SERVER, CLIENT];
  return {
    kind: 'tcp',
    ipVersion: 4,
    src: a.ip,
    dst: b.ip,
    srcPort: a.port,
    dstPort: b.port,
    seq: input.seq >>> 0,
    ack: (input.ack ?? 0) >>> 0,
    flags: flagsOf(input.flags ?? 'A'),
    window: 65535,
    payload: bytes(input.payload),
    missing: input.missing ?? 0,
  };
}

/** Feeds segments as packets 1, 2, 3... and returns every event plus finish()'s. */
class Harness {
  readonly events: FlowEvent[] = [];
  private packet = 0;
  constructor(readonly reassembler = new TcpReassembler()) {}

  push(from: 'client' | 'server', input: SegmentInput): FlowEvent[] {
    this.packet++;
    const events = this.reassembler.push(segment(from, input), this.packet, this.packet / 10);
    this.events.push(...events);
    return events;
  }

  finish(): FlowEvent[] {
    const events = this.reassembler.finish();
    this.events.push(...events);
    return events;
  }

  /** The stream of one direction, gaps shown as [gap N]. */
  stream(direction: 'client' | 'server', conn = 1): string {
    return this.events
      .map((e) => {
        if (e.type === 'data' && e.conn === conn && e.direction === direction) return new TextDecoder().decode(e.bytes);
        if (e.type === 'gap' && e.conn === conn && e.direction === direction) return `[gap ${e.size}]`;
        return '';
      })
      .join('');
  }

  alerts(): string[] {
    return this.events.flatMap((e) => (e.type === 'alert' ? [e.alert.code] : []));
  }

  ends(): string[] {
    return this.events.flatMap((e) => (e.type === 'end' ? [`${e.conn}:${e.direction}:${e.reason}`] : []));
  }
}

/** A handshake with client ISN `c` and server ISN `s`. */
function handshake(h: Harness, c = 1000, s = 5000): void {
  h.push('client', { seq: c, flags: 'S' });
  h.push('server', { seq: s, ack: c + 1, flags: 'SA' });
  h.push('client', { seq: c + 1, ack: s + 1, flags: 'A' });
}

describe('TcpReassembler', () => {
  it('delivers a whole connection in order, as views, and forgets it after both FINs', () => {
    const h = new Harness();
    handshake(h);
    expect(h.events[0]).toEqual({ type: 'open', conn: 1, client: CLIENT, server: SERVER, sawSyn: true, packet: 1, ts: 0.1 });
    const request = bytes('GET / HTTP/1.1\r\n\r\n');
    const data = h.push('client', { seq: 1001, ack: 5001, flags: 'PA', payload: request });
    expect(data).toHaveLength(1);
    const first = data[0]!;
    expect(first.type === 'data' && first.bytes).toBe(request);
    expect(first).toMatchObject({ conn: 1, direction: 'client', packet: 4 });
    h.push('server', { seq: 5001, ack: 1001 + request.length, flags: 'PA', payload: 'HTTP/1.1 101\r\n\r\n' });
    h.push('client', { seq: 1001 + request.length, ack: 5017, flags: 'FA' });
    h.push('server', { seq: 5017, ack: 1002 + request.length, flags: 'FA' });
    expect(h.reassembler.openConnections).toBe(0);
    // The last ACK and a retransmitted FIN arrive after the connection is gone: no ghost opens.
    expect(h.push('client', { seq: 1002 + request.length, ack: 5018, flags: 'A' })).toEqual([]);
    expect(h.push('server', { seq: 5017, ack: 1002 + request.length, flags: 'FA' })).toEqual([]);
    expect(h.finish()).toEqual([]);
    expect(h.stream('client')).toBe('GET / HTTP/1.1\r\n\r\n');
    expect(h.stream('server')).toBe('HTTP/1.1 101\r\n\r\n');
    expect(h.ends()).toEqual(['1:client:fin', '1:server:fin']);
    expect(h.alerts()).toEqual([]);
  });

  it('reorders out-of-order segments and keeps their packet numbers', () => {
    const h = new Harness();
    handshake(h);
    expect(h.push('client', { seq: 1006, payload: 'world' })).toEqual([]);
    expect(h.push('client', { seq: 1011, payload: '!' })).toEqual([]);
    const events = h.push('client', { seq: 1001, payload: 'hello' });
    expect(events.map((e) => (e.type === 'data' ? `${e.packet}:${new TextDecoder().decode(e.bytes)}` : e.type))).toEqual([
      '6:hello',
      '4:world',
      '5:!',
    ]);
  });

  it('drops exact duplicates and identical overlaps silently', () => {
    const h = new Harness();
    handshake(h);
    h.push('client', { seq: 1001, payload: 'abcdef' });
    h.push('client', { seq: 1001, payload: 'abcdef' });
    h.push('client', { seq: 1004, payload: 'defgh' });
    h.push('client', { seq: 1012, payload: 'lmn' });
    h.push('client', { seq: 1012, payload: 'lmn' });
    h.push('client', { seq: 1010, payload: 'jklm' });
    h.push('client', { seq: 1009, payload: 'i' });
    expect(h.stream('client')).toBe('abcdefghijklmn');
    expect(h.alerts()).toEqual([]);
  });

  it('keeps the first copy and flags a retransmission that differs, delivered or still queued', () => {
    const h = new Harness();
    handshake(h);
    h.push('client', { seq: 1001, payload: 'abcdef' });
    h.push('client', { seq: 1004, payload: 'XYZghi' });
    expect(h.stream('client')).toBe('abcdefghi');
    const delivered = h.events.find((e) => e.type === 'alert');
    expect(delivered).toMatchObject({
      conn: 1,
      alert: { code: 'tcp.retransmission-conflict', direction: 'client', packet: 5, offset: 3, detail: { differing: 3, compared: 3 } },
    });
    h.push('client', { seq: 1021, payload: 'uvw' });
    h.push('client', { seq: 1020, payload: 'tUVWx' });
    h.push('client', { seq: 1010, payload: 'jklmnopqrs' });
    expect(h.stream('client')).toBe('abcdefghijklmnopqrstuvwx');
    expect(h.alerts()).toEqual(['tcp.retransmission-conflict', 'tcp.retransmission-conflict']);
  });

  it('compares retransmissions only with the bytes still in the retransmission window', () => {
    const h = new Harness(new TcpReassembler({ retransmissionWindow: 4 }));
    handshake(h);
    h.push('client', { seq: 1001, payload: 'abcdefgh' });
    // 'abcd' is forgotten, 'efgh' remembered: only the last two differing bytes count.
    h.push('client', { seq: 1001, payload: 'ABCDefGH' });
    expect(h.events.filter((e) => e.type === 'alert')).toMatchObject([{ alert: { detail: { differing: 2, compared: 4 } } }]);
    expect(h.stream('client')).toBe('abcdefgh');
  });

  it('takes data carried by a SYN (TCP Fast Open) after the SYN sequence number', () => {
    const h = new Harness();
    h.push('client', { seq: 1000, flags: 'S', payload: 'early' });
    h.push('server', { seq: 5000, ack: 1006, flags: 'SA' });
    h.push('client', { seq: 1006, payload: ' data' });
    expect(h.stream('client')).toBe('early data');
  });

  it('does not flag a one-byte keep-alive probe', () => {
    const h = new Harness();
    handshake(h);
    h.push('client', { seq: 1001, payload: 'abc' });
    h.push('client', { seq: 1003, payload: new Uint8Array([0]) });
    expect(h.alerts()).toEqual([]);
    expect(h.stream('client')).toBe('abc');
  });

  it('gives up a hole when the peer acknowledges past it', () => {
    const h = new Harness();
    handshake(h);
    h.push('client', { seq: 1001, payload: 'hello' });
    h.push('client', { seq: 1016, payload: 'after the gap' });
    // An ACK that only covers what was seen changes nothing.
    expect(h.push('server', { seq: 5001, ack: 1006 })).toEqual([]);
    const events = h.push('server', { seq: 5001, ack: 1029 });
    expect(events.map((e) => e.type)).toEqual(['gap', 'alert', 'data']);
    expect(events[0]).toEqual({ type: 'gap', conn: 1, direction: 'client', size: 10, packet: 7, ts: 0.7 });
    expect(events[1]).toMatchObject({ alert: { code: 'tcp.gap', offset: 5, detail: { size: 10 } } });
    expect(h.stream('client')).toBe('hello[gap 10]after the gap');
    // The missing bytes turning up late are trimmed as old.
    h.push('client', { seq: 1006, payload: '0123456789' });
    expect(h.stream('client')).toBe('hello[gap 10]after the gap');
  });

  it('flushes holes as gaps at finish() and ends open directions with capture-end', () => {
    const h = new Harness();
    handshake(h);
    h.push('client', { seq: 1001, payload: 'a' });
    h.push('client', { seq: 1005, payload: 'e', flags: 'FA' });
    h.push('server', { seq: 5001, payload: 'x' });
    h.finish();
    expect(h.stream('client')).toBe('a[gap 3]e');
    expect(h.ends()).toEqual(['1:client:fin', '1:server:capture-end']);
    expect(h.reassembler.openConnections).toBe(0);
  });

  it('handles sequence numbers wrapping at 2^32', () => {
    const h = new Harness();
    const isn = 0xfffffff8;
    handshake(h, isn, 0xffffffff);
    // Client data: bytes at 0xfffffff9..0xffffffff then 0x00000000.. (in reverse order).
    h.push('client', { seq: seqAdd(isn, 11), payload: 'klmnop' });
    h.push('client', { seq: seqAdd(isn, 5), payload: 'efghij' });
    h.push('client', { seq: seqAdd(isn, 1), payload: 'abcdefg' });
    h.push('client', { seq: seqAdd(isn, 17), payload: 'q', flags: 'FA' });
    // The server's ISN is 2^32 - 1: its data starts at 0.
    h.push('server', { seq: 0, payload: 'xyz' });
    h.push('server', { seq: 0xffffffff, payload: '?' });
    expect(h.stream('client')).toBe('abcdefghijklmnopq');
    expect(h.stream('server')).toBe('xyz');
    expect(h.ends()).toEqual(['1:client:fin']);
    expect(h.alerts()).toEqual([]);
  });

  it('starts mid-stream: the higher port is guessed to be the client', () => {
    const h = new Harness();
    h.push('server', { seq: 777, ack: 1, flags: 'PA', payload: 'pong' });
    expect(h.events[0]).toEqual({ type: 'open', conn: 1, client: CLIENT, server: SERVER, sawSyn: false, packet: 1, ts: 0.1 });
    h.push('client', { seq: 1, ack: 781, payload: 'ping' });
    h.push('server', { seq: 781, payload: '!' });
    expect(h.stream('server')).toBe('pong!');
    expect(h.stream('client')).toBe('ping');
  });

  it('does not open a connection from a lone ACK, FIN or RST', () => {
    const h = new Harness();
    expect(h.push('client', { seq: 1, ack: 2 })).toEqual([]);
    expect(h.push('client', { seq: 1, ack: 2, flags: 'FA' })).toEqual([]);
    expect(h.push('client', { seq: 1, flags: 'R' })).toEqual([]);
    expect(h.reassembler.openConnections).toBe(0);
  });

  it('takes the SYN+ACK sender as the server when the SYN is missing', () => {
    const h = new Harness();
    h.push('server', { seq: 5000, ack: 1001, flags: 'SA' });
    expect(h.events[0]).toMatchObject({ type: 'open', client: CLIENT, server: SERVER, sawSyn: true });
    // The client's first bytes start at the ISN + 1 the SYN+ACK acknowledged.
    h.push('client', { seq: 1003, payload: 'llo' });
    h.push('client', { seq: 1001, payload: 'he' });
    // The SYN, captured late, is recognised as this connection's.
    h.push('client', { seq: 1000, flags: 'S' });
    expect(h.stream('client')).toBe('hello');
    expect(h.events.filter((e) => e.type === 'open')).toHaveLength(1);
  });

  it('ends both directions on RST, delivering what was queued first', () => {
    const h = new Harness();
    handshake(h);
    h.push('client', { seq: 1001, payload: 'ab' });
    h.push('client', { seq: 1005, payload: 'ef' });
    h.push('server', { seq: 5001, flags: 'RA' });
    expect(h.stream('client')).toBe('ab[gap 2]ef');
    expect(h.ends()).toEqual(['1:client:rst', '1:server:rst']);
    expect(h.push('client', { seq: 1007, payload: 'late' })).toEqual([]);
  });

  it('starts a new connection id when the ports are reused with a new ISN', () => {
    const h = new Harness();
    handshake(h, 1000);
    h.push('client', { seq: 1001, payload: 'one', flags: 'FPA' });
    h.push('server', { seq: 5001, flags: 'FA' });
    handshake(h, 90000, 7000);
    h.push('client', { seq: 90001, payload: 'two' });
    // A third SYN while the second connection is still open abandons it.
    handshake(h, 123456, 8000);
    h.push('client', { seq: 123457, payload: 'three' });
    expect(h.events.filter((e) => e.type === 'open').map((e) => e.conn)).toEqual([1, 2, 3]);
    expect(h.stream('client', 1)).toBe('one');
    expect(h.stream('client', 2)).toBe('two');
    expect(h.stream('client', 3)).toBe('three');
    expect(h.ends()).toEqual(['1:client:fin', '1:server:fin', '2:client:abandoned', '2:server:abandoned']);
  });

  it('ignores a retransmitted SYN', () => {
    const h = new Harness();
    h.push('client', { seq: 1000, flags: 'S' });
    h.push('client', { seq: 1000, flags: 'S' });
    h.push('server', { seq: 5000, ack: 1001, flags: 'SA' });
    h.push('client', { seq: 1000, flags: 'S' });
    h.push('client', { seq: 1001, payload: 'ok' });
    expect(h.events.filter((e) => e.type === 'open')).toHaveLength(1);
    expect(h.stream('client')).toBe('ok');
  });

  it('turns bytes cut by the snap length into a gap, with one alert per connection', () => {
    const h = new Harness();
    handshake(h);
    h.push('client', { seq: 1001, payload: 'abc', missing: 7 });
    h.push('client', { seq: 1011, payload: 'klm', missing: 2 });
    h.push('client', { seq: 1016, payload: 'p' });
    expect(h.stream('client')).toBe('abc[gap 7]klm[gap 2]p');
    expect(h.alerts()).toEqual(['capture.snaplen-truncated']);
  });

  it('flushes the queue as a gap when it overflows its bound', () => {
    const h = new Harness(new TcpReassembler({ maxBufferedBytes: 10 }));
    handshake(h);
    h.push('client', { seq: 1001, payload: 'a' });
    h.push('client', { seq: 1003, payload: 'cdefgh' });
    expect(h.stream('client')).toBe('a');
    h.push('client', { seq: 1009, payload: 'ijklm' });
    expect(h.stream('client')).toBe('a[gap 1]cdefghijklm');
    expect(h.alerts()).toEqual(['tcp.out-of-order-overflow', 'tcp.gap']);
  });

  it('finds a connection whose two ends use the same port, whichever side sends', () => {
    const r = new TcpReassembler();
    const samePorts = (from: 'client' | 'server', input: SegmentInput): TcpSegment => ({ ...segment(from, input), srcPort: 5000, dstPort: 5000 });
    // Another connection's packet between each of them, so each is looked up by its key.
    const other = { ...segment('client', { seq: 1, flags: 'S' }), srcPort: 40000 };
    const segments = [
      samePorts('client', { seq: 100, flags: 'S' }),
      other,
      samePorts('server', { seq: 900, ack: 101, flags: 'SA' }),
      other,
      samePorts('client', { seq: 101, ack: 901, payload: 'hi', flags: 'PA' }),
    ];
    const events = segments.flatMap((s, i) => r.push(s, i + 1, i));
    expect(events.filter((e) => e.type === 'open').map((e) => e.conn)).toEqual([1, 2]);
    expect(events.filter((e) => e.type === 'data').map((e) => [e.conn, new TextDecoder().decode(e.type === 'data' ? e.bytes : undefined)])).toEqual([[1, 'hi']]);
  });

  it('tells apart connections on the same ports between different addresses', () => {
    const r = new TcpReassembler();
    const from = (ip: string) => (input: SegmentInput): TcpSegment => ({ ...segment('client', input), src: ip });
    const [a, b] = [from('10.0.0.1'), from('10.0.0.9')];
    // Alternating, so neither is the connection of the segment before.
    const segments = [a({ seq: 1, flags: 'S' }), b({ seq: 7, flags: 'S' }), a({ seq: 2, payload: 'from a' }), b({ seq: 8, payload: 'from b' }), a({ seq: 8, payload: '!' })];
    const events = segments.flatMap((x, i) => r.push(x, i + 1, i));
    const data = events.flatMap((e) => (e.type === 'data' ? [`${e.conn}:${new TextDecoder().decode(e.bytes)}`] : []));
    expect(data).toEqual(['1:from a', '2:from b', '1:!']);
  });

  it('opens a new connection on ports a finished one used, and ends each once', () => {
    const h = new Harness();
    for (const isn of [100, 5000]) {
      h.push('client', { seq: isn, flags: 'S' });
      h.push('server', { seq: 900, ack: isn + 1, flags: 'SA' });
      h.push('client', { seq: isn + 1, ack: 901, payload: `hi ${isn}`, flags: 'FPA' });
      h.push('server', { seq: 901, ack: isn + 10, flags: 'FA' });
    }
    expect(h.events.filter((e) => e.type === 'open').map((e) => e.conn)).toEqual([1, 2]);
    expect(h.stream('client', 2)).toBe('hi 5000');
    // A late copy of the last data: the connection stays forgotten, no ghost is opened.
    h.push('client', { seq: 5001, ack: 901, payload: 'hi 5000', flags: 'PA' });
    expect(h.reassembler.openConnections).toBe(0);
    h.finish();
    expect(h.ends()).toEqual(['1:client:fin', '1:server:fin', '2:client:fin', '2:server:fin']);
  });

  it('keeps the connection table bounded, abandoning the least recently active', () => {
    const h = new Harness(new TcpReassembler({ maxConnections: 10 }));
    const r = h.reassembler;
    for (let i = 0; i < 100; i++) {
      r.push({ ...segment('client', { seq: 1, payload: 'x' }), srcPort: 10000 + i }, i + 1, i);
      expect(r.openConnections).toBeLessThanOrEqual(10);
    }
    expect(r.finish().filter((e) => e.type === 'end')).toHaveLength(20);
  });

  it('drops finished connections: 20000 short connections leave an empty table', () => {
    const r = new TcpReassembler();
    let packet = 0;
    for (let i = 0; i < 20000; i++) {
      const port = 1024 + (i % 60000);
      const client = (input: SegmentInput): TcpSegment => ({ ...segment('client', input), srcPort: port });
      const server = (input: SegmentInput): TcpSegment => ({ ...segment('server', input), dstPort: port });
      r.push(client({ seq: i, flags: 'S' }), ++packet, 0);
      r.push(server({ seq: 9, ack: i + 1, flags: 'SA' }), ++packet, 0);
      r.push(client({ seq: i + 1, payload: 'hi', flags: 'FPA' }), ++packet, 0);
      r.push(server({ seq: 10, flags: 'FA' }), ++packet, 0);
    }
    expect(r.openConnections).toBe(0);
  });

  describe('properties', () => {
    /** Cuts `[0, length)` into segments at the given points, plus extra overlapping retransmissions. */
    const scenario = fc
      .record({
        data: fc.uint8Array({ minLength: 1, maxLength: 2000 }),
        isn: fc.oneof(fc.constant(0xffffffff), fc.constant(0xfffff000), fc.nat({ max: 0xffffffff })),
        cuts: fc.array(fc.nat(), { maxLength: 40 }),
        extras: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 10 }),
        order: fc.array(fc.nat(), { maxLength: 60 }),
        fin: fc.boolean(),
      })
      .map(({ data, isn, cuts, extras, order, fin }) => {
        const points = [...new Set([0, data.length, ...cuts.map((c) => c % (data.length + 1))])].sort((a, b) => a - b);
        const ranges: [number, number][] = [];
        for (let i = 0; i + 1 < points.length; i++) ranges.push([points[i]!, points[i + 1]!]);
        for (const [a, b] of extras) {
          const from = a % data.length;
          ranges.push([from, from + 1 + (b % (data.length - from))]);
        }
        // A random permutation driven by `order`, then a few duplicates.
        const shuffled = [...ranges];
        order.forEach((o, i) => {
          const j = i % shuffled.length;
          const k = o % shuffled.length;
          [shuffled[j], shuffled[k]] = [shuffled[k]!, shuffled[j]!];
        });
        for (const o of order.slice(0, 5)) shuffled.push(shuffled[o % shuffled.length]!);
        return { data, isn, ranges: shuffled, fin };
      });

    it('random segmentation, order and duplicates reassemble to exactly the original bytes', () => {
      fc.assert(
        fc.property(scenario, ({ data, isn, ranges, fin }) => {
          const h = new Harness();
          h.push('client', { seq: isn, flags: 'S' });
          for (const [from, to] of ranges) {
            const last = to === data.length;
            h.push('client', { seq: seqAdd(isn, 1 + from), payload: data.subarray(from, to), flags: fin && last ? 'FA' : 'A' });
          }
          h.finish();
          const delivered = concat(...h.events.flatMap((e) => (e.type === 'data' ? [e.bytes] : [])));
          expect(delivered).toEqual(data);
          expect(h.events.filter((e) => e.type === 'gap' || e.type === 'alert')).toEqual([]);
          expect(h.ends()).toEqual([`1:client:${fin ? 'fin' : 'capture-end'}`, '1:server:capture-end']);
          // The FIN comes after the last byte.
          const endIndex = h.events.findIndex((e) => e.type === 'end');
          expect(h.events.slice(endIndex).some((e) => e.type === 'data')).toBe(false);
        }),
        { numRuns: runs(500) },
      );
    });

    it('with segments lost, data and gaps still add up to the stream, byte for byte', () => {
      fc.assert(
        fc.property(scenario, fc.array(fc.boolean(), { maxLength: 80 }), fc.nat({ max: 3000 }), ({ data, isn, ranges }, lost, bound) => {
          const h = new Harness(new TcpReassembler({ maxBufferedBytes: bound }));
          h.push('client', { seq: isn, flags: 'S' });
          ranges.forEach(([from, to], i) => {
            if (lost[i] === true) return;
            h.push('client', { seq: seqAdd(isn, 1 + from), payload: data.subarray(from, to) });
          });
          h.finish();
          let offset = 0;
          for (const e of h.events) {
            if (e.type === 'data') {
              expect(e.bytes).toEqual(data.subarray(offset, offset + e.bytes.length));
              offset += e.bytes.length;
            } else if (e.type === 'gap') {
              expect(e.size).toBeGreaterThan(0);
              offset += e.size;
            }
          }
          expect(offset).toBeLessThanOrEqual(data.length);
          expect(h.alerts().filter((c) => c === 'tcp.retransmission-conflict')).toEqual([]);
        }),
        { numRuns: runs(500) },
      );
    });

    it('never throws on random segments and keeps one end per direction per open', () => {
      const arbitrarySegment = fc.record({
        from: fc.constantFrom<'client' | 'server'>('client', 'server'),
        port: fc.constantFrom(80, 50000),
        seq: fc.oneof(fc.nat({ max: 0xffffffff }), fc.nat({ max: 40 }), fc.constant(0xfffffffe)),
        ack: fc.oneof(fc.nat({ max: 0xffffffff }), fc.nat({ max: 40 })),
        flags: fc.stringMatching(/^[SAFRP]{0,3}$/),
        payload: fc.uint8Array({ maxLength: 20 }),
        missing: fc.oneof(fc.constant(0), fc.nat({ max: 30 })),
      });
      fc.assert(
        fc.property(fc.array(arbitrarySegment, { maxLength: 60 }), fc.nat({ max: 50 }), (segments, bound) => {
          const r = new TcpReassembler({ maxBufferedBytes: bound, maxConnections: 2, retransmissionWindow: 16 });
          const events: FlowEvent[] = [];
          for (const s of segments) {
            const base = segment(s.from, { seq: s.seq, ack: s.ack, flags: s.flags, payload: s.payload, missing: s.missing });
            events.push(...r.push(s.from === 'client' ? { ...base, srcPort: s.port } : { ...base, dstPort: s.port }, 1, 0));
          }
          events.push(...r.finish());
          const ended = new Map<number, number>();
          for (const e of events) {
            if (e.type === 'open') {
              expect(ended.has(e.conn)).toBe(false);
              ended.set(e.conn, 0);
            } else if (e.type === 'end') {
              ended.set(e.conn, (ended.get(e.conn) ?? 0) + 1);
            } else if (e.type !== 'alert') {
              // Nothing is delivered in a direction after its end.
              expect(ended.get(e.conn)).toBeLessThan(2);
            }
          }
          for (const count of ended.values()) expect(count).toBe(2);
          expect(r.openConnections).toBe(0);
        }),
        { numRuns: runs(1000) },
      );
    });
  });
});
