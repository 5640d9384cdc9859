import { describe, expect, it } from 'vitest';
import { formatIpv4, formatIpv6 } from '../../src/net/address.js';
import { parseIpv6 } from './packet-builder.js';

describe('formatIpv4', () => {
  it('prints a dotted quad', () => {
    expect(formatIpv4(new Uint8Array([0, 192, 168, 1, 254]), 1)).toBe('192.168.1.254');
  });
});

describe('formatIpv6 (RFC 5952)', () => {
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    // §4.2.2: a single zero group is not shortened.
    ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'],
    // §4.2.3: the longest run wins; on a tie, the first.
    ['2001:0000:0000:0001:0000:0000:0000:0001', '2001:0:0:1::1'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['fe80:0000:0000:0000:abcd:ef01:0000:0000', 'fe80::abcd:ef01:0:0'],
    // §4.3: lowercase.
    ['2001:0DB8:00AA:0000:0000:0000:0000:0BCD', '2001:db8:aa::bcd'],
    // §5: IPv4-mapped addresses end in dotted decimal.
    ['0000:0000:0000:0000:0000:ffff:c000:0201', '::ffff:192.0.2.1'],
  ];
  for (const [full, expected] of cases) {
    it(`${full} -> ${expected}`, () => {
      expect(formatIpv6(parseIpv6(full))).toBe(expected);
    });
  }
});
