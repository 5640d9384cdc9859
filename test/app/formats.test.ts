import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCbor, isCbor } from '../../src/app/cbor.js';
import { isJsonRpc } from '../../src/app/json-rpc.js';
import { decodeMsgpack, isMsgpack } from '../../src/app/msgpack.js';
import { decodeProtobuf, protobufText } from '../../src/app/protobuf.js';
import { alertCodes, apps, run } from './helpers.js';

const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

describe('MessagePack (spec formats)', () => {
  it.each([
    ['81 a3 66 6f 6f 01', { foo: 1 }],
    ['93 c0 c2 c3', [null, false, true]],
    ['92 7f e0', [127, -32]],
    ['94 cc ff cd 01 00 d0 80 d1 80 00', [255, 256, -128, -32768]],
    ['91 cf ff ff ff ff ff ff ff ff', ['18446744073709551615']],
    ['91 d3 ff ff ff ff ff ff ff ff', [-1]],
    ['92 ca 3f c0 00 00 cb 40 09 21 fb 54 44 2d 18', [1.5, 3.141592653589793]],
    ['91 c4 03 01 02 03', [Uint8Array.of(1, 2, 3)]],
    ['91 d9 03 e6 97 a5', ['日']],
    ['81 01 a1 78', { '1': 'x' }],
    ['91 d4 05 2a', [{ ext: 5, data: Uint8Array.of(0x2a) }]],
    ['91 d6 ff 00 00 00 01', [{ ext: -1, timestamp: '1970-01-01T00:00:01.000000000Z' }]],
  ])('%s', (bytes, value) => {
    expect(decodeMsgpack(hex(bytes))).toEqual(value);
  });

  it('takes only whole values: trailing bytes, cut values, the unused c1, bad UTF-8 are not MessagePack', () => {
    for (const bad of ['91 01 02', '92 01', 'c1', '91 a2 ff fe', 'dc ff ff', 'df ff ff ff ff']) expect(decodeMsgpack(hex(bad)), bad).toBeUndefined();
    expect(isMsgpack(hex('80'))).toBe(false);
    expect(isMsgpack(hex('05'))).toBe(false);
    expect(isMsgpack(hex('81 a1 61 01'))).toBe(true);
  });
});

describe('CBOR (RFC 8949 Appendix A)', () => {
  it.each([
    ['00', 0],
    ['18 64', 100],
    ['1b 00 00 00 e8 d4 a5 10 00', 1000000000000],
    ['1b ff ff ff ff ff ff ff ff', '18446744073709551615'],
    ['3b ff ff ff ff ff ff ff ff', '-18446744073709551616'],
    ['39 03 e7', -1000],
    ['f9 3c 00', 1],
    ['f9 7c 00', 'Infinity'],
    ['fa 47 c3 50 00', 100000],
    ['fb 3f f1 99 99 99 99 99 9a', 1.1],
    ['f4', false],
    ['f6', null],
    ['f7', { simple: 23 }],
    ['c1 1a 51 4b 67 b0', { tag: 1, value: 1363896240 }],
    ['44 01 02 03 04', Uint8Array.of(1, 2, 3, 4)],
    ['62 c3 bc', 'ü'],
    ['83 01 82 02 03 82 04 05', [1, [2, 3], [4, 5]]],
    ['a2 61 61 01 61 62 82 02 03', { a: 1, b: [2, 3] }],
    ['a2 01 02 03 04', { '1': 2, '3': 4 }],
    ['5f 42 01 02 43 03 04 05 ff', Uint8Array.of(1, 2, 3, 4, 5)],
    ['7f 65 73 74 72 65 61 64 6d 69 6e 67 ff', 'streaming'],
    ['9f 01 82 02 03 9f 04 05 ff ff', [1, [2, 3], [4, 5]]],
    ['bf 63 46 75 6e f5 63 41 6d 74 21 ff', { Fun: true, Amt: -2 }],
  ])('%s', (bytes, value) => {
    expect(decodeCbor(hex(bytes))).toEqual(value);
  });

  it('takes only whole, well-formed items', () => {
    for (const bad of ['82 01', '01 02', '1c', 'ff', '5f 01 ff', '9f 01', 'f8 10', 'bf 01 ff']) expect(decodeCbor(hex(bad)), bad).toBeUndefined();
    expect(isCbor(hex('a1 61 61 01'))).toBe(true);
    expect(isCbor(hex('80'))).toBe(false);
  });
});

describe('protobuf without a schema (the encoding guide\'s examples)', () => {
  it('reads field numbers, wire types and values as protoc --decode_raw does', () => {
    expect(decodeProtobuf(hex('08 96 01'))).toEqual([{ field: 1, wire: 'varint', value: 150 }]);
    expect(decodeProtobuf(hex('12 07 74 65 73 74 69 6e 67'))).toEqual([{ field: 2, wire: 'len', value: 'testing' }]);
    const nested = decodeProtobuf(hex('1a 03 08 96 01 25 01 00 00 00 29 02 00 00 00 00 00 00 00'))!;
    expect(nested).toEqual([
      { field: 3, wire: 'len', value: [{ field: 1, wire: 'varint', value: 150 }] },
      { field: 4, wire: 'i32', value: '0x00000001' },
      { field: 5, wire: 'i64', value: '0x0000000000000002' },
    ]);
    expect(protobufText(nested)).toBe('3 { 1: 150 } 4: 0x00000001 5: 0x0000000000000002');
    expect(decodeProtobuf(hex('0b 08 01 0c'))).toEqual([{ field: 1, wire: 'group', value: [{ field: 1, wire: 'varint', value: 1 }] }]);
    expect(decodeProtobuf(hex('08 ff ff ff ff ff ff ff ff ff 01'))).toEqual([{ field: 1, wire: 'varint', value: '18446744073709551615' }]);
    expect(decodeProtobuf(hex('12 02 ff fe'))).toEqual([{ field: 2, wire: 'len', value: Uint8Array.of(0xff, 0xfe) }]);
  });

  it('takes only messages that parse whole', () => {
    for (const bad of ['', '08', '12 05 01', '07 01', '00 01', '0c', '0b 08 01', '08 80 80 80 80 80 80 80 80 80 80 01']) expect(decodeProtobuf(hex(bad)), bad).toBeUndefined();
  });
});

describe('the binary format decoders', () => {
  it('never throw, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        decodeMsgpack(bytes);
        decodeCbor(bytes);
        decodeProtobuf(bytes);
      }),
    );
  });

  it('decode what they were chosen for, leave the rest', () => {
    const msgpack = apps(run([['client', hex('82 a4 74 79 70 65 a4 63 68 61 74 a1 6e 01')], ['server', 'text is not theirs'], ['server', hex('c1')]], { target: '/mp' }));
    expect(msgpack).toMatchObject([{ protocol: 'msgpack', kind: 'map', summary: 'msgpack {"type":"chat","n":1}', fields: { data: { type: 'chat', n: 1 } } }]);
    const cbor = apps(run([['client', hex('a1 61 61 82 01 02')]], { target: '/c' }));
    expect(cbor).toMatchObject([{ protocol: 'cbor', summary: 'cbor {"a":[1,2]}' }]);
    // Protobuf is never guessed: only with --app or a subprotocol naming it.
    expect(apps(run([['client', hex('08 96 01')]], { target: '/p' }))).toEqual([]);
    expect(apps(run([['client', hex('08 96 01')]], { target: '/p', subprotocol: 'protobuf' }))).toMatchObject([{ protocol: 'protobuf', kind: 'message', summary: 'protobuf 1: 150' }]);
  });
});

describe('JSON-RPC 2.0 (the specification\'s examples, §7)', () => {
  it('pairs requests and responses, shows notifications and errors, one event per batch member', () => {
    const events = run([
      ['client', '{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}'],
      ['server', '{"jsonrpc": "2.0", "result": 19, "id": 1}'],
      ['client', '{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}'],
      ['client', '{"jsonrpc": "2.0", "method": "foobar", "id": "1"}'],
      ['server', '{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}'],
      ['client', '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}, {"foo": "boo"}]'],
      ['server', '{"jsonrpc": "2.0", "result": 7, "id": "9"}'],
      ['client', '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]'],
    ]);
    const a = apps(events);
    expect(a.map((e) => e.kind)).toEqual(['request', 'response', 'notification', 'request', 'error', 'request', 'notification', 'response']);
    expect(a[0]).toMatchObject({ summary: 'json-rpc request subtract [42,23]  id 1', name: 'subtract', fields: { id: 1, method: 'subtract', params: [42, 23], batch: null } });
    expect(a[1]).toMatchObject({ name: 'subtract', replyTo: 10, latencyMs: 1, fields: { id: 1, result: 19 } });
    expect(a[1]!.summary).toBe('json-rpc response subtract 19  id 1  answers packet 10 after 1 ms');
    expect(a[4]).toMatchObject({ name: 'foobar', replyTo: 13, fields: { error: { code: -32601, message: 'Method not found' } } });
    expect(a[5]!.fields.batch).toEqual({ index: 0, size: 3 });
    expect(alertCodes(events)).toEqual(['jsonrpc.invalid', 'jsonrpc.response-unknown', 'jsonrpc.json-invalid']);
    expect(isJsonRpc('{"jsonrpc":"2.0","method":"x"}')).toBe(true);
    expect(isJsonRpc('{"jsonrpc":"1.0","method":"x"}')).toBe(false);
    expect(isJsonRpc('[]')).toBe(false);
  });

  it('flags a request id used again before its answer', () => {
    const events = run([
      ['client', '{"jsonrpc":"2.0","method":"a","id":7}'],
      ['client', '{"jsonrpc":"2.0","method":"b","id":7}'],
    ]);
    expect(alertCodes(events)).toEqual(['jsonrpc.id-reused']);
  });
});
