import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFLATE_NOT_OFFERED,
  isLegacyDeflate,
  isPermessageDeflate,
  parseExtensions,
  validateDeflateOffer,
  validateDeflateResponse,
  type ExtensionOffer,
} from '../../src/http/extensions.js';

function one(header: string): ExtensionOffer {
  const { extensions, errors } = parseExtensions([header]);
  expect(errors).toEqual([]);
  expect(extensions).toHaveLength(1);
  return extensions[0] as ExtensionOffer;
}

function offers(header: string): ExtensionOffer[] {
  const { extensions, errors } = parseExtensions([header]);
  expect(errors).toEqual([]);
  return extensions;
}

describe('parseExtensions (RFC 6455 §9.1)', () => {
  it('parses names, bare parameters, token values and quoted values', () => {
    expect(parseExtensions(['foo; a; b=1; c="x-y" , bar'])).toEqual({
      extensions: [
        { name: 'foo', params: [{ name: 'a', value: null }, { name: 'b', value: '1' }, { name: 'c', value: 'x-y' }] },
        { name: 'bar', params: [] },
      ],
      errors: [],
    });
  });

  it('treats a repeated header as one list (the §9.1 example)', () => {
    const split = parseExtensions(['foo', 'bar; baz=2']);
    expect(split).toEqual(parseExtensions(['foo, bar; baz=2']));
    expect(split.extensions.map((extension) => extension.name)).toEqual(['foo', 'bar']);
  });

  it('allows OWS around separators and ignores empty list elements', () => {
    expect(parseExtensions([' ,permessage-deflate ;\tclient_max_window_bits = 10 ,, ']).extensions).toEqual([
      { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: '10' }] },
    ]);
    expect(parseExtensions(['', ' ']).extensions).toEqual([]);
  });

  it('unescapes quoted-pair inside quoted values', () => {
    expect(one('x; p="a\\b"').params).toEqual([{ name: 'p', value: 'ab' }]);
  });

  it.each([
    ['a quoted value that is not a token', 'x; p="a b", good', /not a token/],
    ['an unterminated quoted value', 'x; p="abc', /unterminated/],
    ['a parameter without a name', 'x; =1, good', /parameter name/],
    ['an empty value', 'x; p=, good', /no value/],
    ['a missing extension name', '; p, good', /extension name/],
    ['a stray character', 'x y, good', /unexpected/],
    ['a slash in a name', 'x/1, good', /unexpected/],
  ])('reports %s and keeps the other elements', (_label, header, problem) => {
    const { extensions, errors } = parseExtensions([header]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(problem);
    expect(extensions.map((extension) => extension.name)).toEqual(header.endsWith('good') ? ['good'] : []);
  });

  it('does not split on a comma inside a quoted value while recovering', () => {
    const { extensions, errors } = parseExtensions(['x; p="a, b", y']);
    expect(errors).toHaveLength(1);
    expect(extensions.map((extension) => extension.name)).toEqual(['y']);
  });

  it('never throws and round-trips what it builds (fast-check)', () => {
    const token = fc.string({ unit: fc.constantFrom(...'abcxyz_-019.'), minLength: 1, maxLength: 8 });
    const param = fc.record({ name: token, value: fc.option(token, { nil: null }) });
    const extension = fc.record({ name: token, params: fc.array(param, { maxLength: 4 }) });
    fc.assert(
      fc.property(fc.array(extension, { maxLength: 4 }), fc.boolean(), (list, quote) => {
        const header = list
          .map((ext) => [ext.name, ...ext.params.map((p) => (p.value === null ? p.name : `${p.name}=${quote ? `"${p.value}"` : p.value}`))].join('; '))
          .join(', ');
        expect(parseExtensions([header])).toEqual({ extensions: list, errors: [] });
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }), (values) => {
        const result = parseExtensions(values);
        expect(Array.isArray(result.extensions) && Array.isArray(result.errors)).toBe(true);
      }),
    );
  });
});

describe('extension names', () => {
  it('recognises permessage-deflate and the legacy per-frame names, case-insensitively', () => {
    expect(isPermessageDeflate('permessage-deflate')).toBe(true);
    expect(isPermessageDeflate('PerMessage-Deflate')).toBe(true);
    expect(isPermessageDeflate('x-webkit-deflate-frame')).toBe(false);
    expect(isLegacyDeflate('x-webkit-deflate-frame')).toBe(true);
    expect(isLegacyDeflate('deflate-frame')).toBe(true);
    expect(isLegacyDeflate('permessage-deflate')).toBe(false);
  });
});

describe('validateDeflateOffer (RFC 7692 §7)', () => {
  it.each([
    'permessage-deflate',
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; client_max_window_bits=8',
    'permessage-deflate; server_max_window_bits=10',
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    'permessage-deflate; server_max_window_bits="15"',
    'permessage-deflate; Client_Max_Window_Bits',
  ])('accepts %s', (header) => {
    expect(validateDeflateOffer(one(header))).toEqual([]);
  });

  it.each([
    ['permessage-deflate; foo', /unknown parameter foo/],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', /repeated/],
    ['permessage-deflate; client_max_window_bits=10; client_max_window_bits', /repeated/],
    ['permessage-deflate; server_max_window_bits', /needs a value/],
    ['permessage-deflate; server_max_window_bits=7', /outside 8\.\.15/],
    ['permessage-deflate; server_max_window_bits=16', /outside 8\.\.15/],
    ['permessage-deflate; client_max_window_bits=0', /not a plain decimal/],
    ['permessage-deflate; client_max_window_bits=010', /not a plain decimal/],
    ['permessage-deflate; client_max_window_bits=+9', /not a plain decimal/],
    ['permessage-deflate; client_max_window_bits=0x0f', /not a plain decimal/],
    ['permessage-deflate; server_no_context_takeover=1', /must not have a value/],
    ['x-webkit-deflate-frame', /not permessage-deflate/],
  ])('rejects %s', (header, problem) => {
    const problems = validateDeflateOffer(one(header));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });
});

describe('validateDeflateResponse (RFC 7692 §7.1)', () => {
  const valid: Array<[string, string, object]> = [
    // §5.1-style minimal negotiation.
    ['permessage-deflate', 'permessage-deflate', { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: null, clientMaxWindowBits: null }],
    // §7.1.3-style fallback list: the server accepts the first offer...
    ['permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits', 'permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 10 }],
    // ...or the second one.
    ['permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits', 'permessage-deflate', { serverMaxWindowBits: null }],
    // §7.1.2.1: a smaller server window than offered, and one not asked for at all.
    ['permessage-deflate; server_max_window_bits=12', 'permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 9 }],
    ['permessage-deflate', 'permessage-deflate; server_max_window_bits=11', { serverMaxWindowBits: 11 }],
    // §7.1.2.2: client_max_window_bits answered when offered (with or without a value).
    ['permessage-deflate; client_max_window_bits', 'permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: 10 }],
    ['permessage-deflate; client_max_window_bits=12', 'permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 12 }],
    // §7.1.1.1, §7.1.1.2: the server may add either no_context_takeover on its own.
    ['permessage-deflate', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
    ['permessage-deflate; server_no_context_takeover', 'permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: true }],
    // Chrome's usual offer and a typical answer.
    ['permessage-deflate; client_max_window_bits', 'permessage-deflate; server_no_context_takeover; client_max_window_bits=15', { serverNoContextTakeover: true, clientMaxWindowBits: 15 }],
  ];

  it.each(valid)('offer %s / response %s is valid', (offer, response, params) => {
    const result = validateDeflateResponse(one(response), offers(offer));
    expect(result.problems).toEqual([]);
    expect(result.params).toMatchObject(params);
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['permessage-deflate', 'permessage-deflate; client_max_window_bits=10', /client_max_window_bits is in the response but the client did not offer it/],
    ['permessage-deflate; client_max_window_bits=10', 'permessage-deflate; client_max_window_bits=12', /client_max_window_bits=12 is larger than the 10 the client allowed/],
    ['permessage-deflate; client_max_window_bits', 'permessage-deflate; client_max_window_bits', /client_max_window_bits needs a value/],
    ['permessage-deflate; server_max_window_bits=10', 'permessage-deflate; server_max_window_bits=12', /server_max_window_bits=12 is larger than the 10 offered/],
    ['permessage-deflate; server_max_window_bits=10', 'permessage-deflate', /server_max_window_bits=10 was offered but is missing/],
    ['permessage-deflate; server_no_context_takeover', 'permessage-deflate', /server_no_context_takeover was offered but is missing/],
    ['permessage-deflate', 'permessage-deflate; mystery=1', /unknown parameter mystery/],
    ['permessage-deflate', 'permessage-deflate; server_max_window_bits=16', /outside 8\.\.15/],
    ['permessage-deflate', 'permessage-deflate; server_max_window_bits=08', /not a plain decimal/],
    ['permessage-deflate', 'permessage-deflate; client_no_context_takeover; client_no_context_takeover', /repeated/],
    ['permessage-deflate; server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7', /the offer itself is invalid/],
    ['x-webkit-deflate-frame', 'permessage-deflate', new RegExp(DEFLATE_NOT_OFFERED)],
  ];

  it.each(invalid)('offer %s / response %s is invalid', (offer, response, problem) => {
    const result = validateDeflateResponse(one(response), offers(offer));
    expect(result.problems.some((text) => problem.test(text))).toBe(true);
  });

  it('is valid when any one of several offers fits, and reports the closest offer otherwise', () => {
    const list = offers('permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits=9');
    expect(validateDeflateResponse(one('permessage-deflate; server_max_window_bits=10'), list).problems).toEqual([]);
    expect(validateDeflateResponse(one('permessage-deflate; client_max_window_bits=9'), list).problems).toEqual([]);
    // Offer #1 misses twice (no client_max_window_bits offered, server_max_window_bits dropped), #2 once.
    const mismatch = validateDeflateResponse(one('permessage-deflate; client_max_window_bits=12'), list).problems;
    expect(mismatch).toEqual(['offer #2: client_max_window_bits=12 is larger than the 9 the client allowed']);
  });

  it('still states what the response says when it is invalid', () => {
    const result = validateDeflateResponse(one('permessage-deflate; server_no_context_takeover; server_max_window_bits=99; foo'), offers('permessage-deflate'));
    expect(result.params).toEqual({ serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: null, clientMaxWindowBits: null });
    expect(result.problems).toHaveLength(2);
  });

  it('gives no params for an element that is not permessage-deflate', () => {
    expect(validateDeflateResponse(one('x-webkit-deflate-frame'), offers('x-webkit-deflate-frame')).params).toBeNull();
  });
});
