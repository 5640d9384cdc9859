import { describe, expect, it } from 'vitest';
import { canonicalIp, parseHostPort, parseTarget, sameFamily } from '../../src/proxy/address.js';

describe('--listen and --target', () => {
  it('reads [HOST:]PORT, bracketed IPv6 and ws:// / wss:// URLs', () => {
    expect(parseHostPort('9000', '127.0.0.1', '--listen')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseHostPort('0.0.0.0:9000', '127.0.0.1', '--listen')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseHostPort('[::]:9000', '127.0.0.1', '--listen')).toEqual({ host: '::', port: 9000 });
    expect(parseHostPort('0', '127.0.0.1', '--listen', true).port).toBe(0);
    expect(parseTarget('8080')).toEqual({ host: 'localhost', port: 8080, tls: false });
    expect(parseTarget('example.org:80')).toEqual({ host: 'example.org', port: 80, tls: false });
    expect(parseTarget('wss://example.org/chat')).toEqual({ host: 'example.org', port: 443, tls: true });
    expect(parseTarget('ws://[::1]:8080')).toEqual({ host: '::1', port: 8080, tls: false });
  });

  it.each(['', 'x', '::1:80', '0', '65536', 'host:', '[nope]:80', 'a b:80', 'http://example.org'])('refuses %j', (text) => {
    expect(() => parseTarget(text)).toThrow();
  });

  it('writes addresses as the packet decoder prints them, in one IP version', () => {
    expect(canonicalIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(sameFamily('127.0.0.1', '::1')).toEqual(['::ffff:127.0.0.1', '::1']);
    expect(sameFamily('::ffff:10.0.0.1', '10.0.0.2')).toEqual(['10.0.0.1', '10.0.0.2']);
  });
});
