/**
 * Addresses for the proxy: `[HOST:]PORT` for listening and for the target, `ws://` and
 * `wss://` URLs, and the canonical text of a socket's address, so the endpoints shown live are
 * exactly those wsdump shows for the recorded capture.
 */
import { isIP } from 'node:net';
import { formatIpv6 } from '../net/address.js';
import { parseIpv6 } from '../net/packet-encoder.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface ProxyTarget extends HostPort {
  /** Connect upstream with TLS (a wss:// target). */
  tls: boolean;
}

/** A bad address given by the user: the message says what was expected. */
export class AddressError extends Error {}

function port(text: string, what: string, allowZero: boolean): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65535 || value < (allowZero ? 0 : 1)) {
    throw new AddressError(`${what}: "${text}" is not a port number (${allowZero ? 0 : 1}-65535)`);
  }
  return value;
}

/**
 * `PORT`, `HOST:PORT`, `[IPV6]:PORT` (a bare IPv6 address must be bracketed, since its colons
 * would be ambiguous). Port 0 is allowed for listening (the system picks one).
 */
export function parseHostPort(text: string, defaultHost: string, what: string, allowZero = false): HostPort {
  const value = text.trim();
  if (/^\d+$/.test(value)) return { host: defaultHost, port: port(value, what, allowZero) };
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (bracketed) {
    if (isIP(bracketed[1]!) !== 6) throw new AddressError(`${what}: "${bracketed[1]}" is not an IPv6 address`);
    return { host: bracketed[1]!, port: port(bracketed[2]!, what, allowZero) };
  }
  const colon = value.lastIndexOf(':');
  if (colon <= 0 || value.indexOf(':') !== colon) throw new AddressError(`${what}: expected [HOST:]PORT (IPv6 as [::1]:PORT), got "${text}"`);
  const host = value.slice(0, colon);
  if (!/^[A-Za-z0-9.-]+$/.test(host)) throw new AddressError(`${what}: "${host}" is not a host name or address`);
  return { host, port: port(value.slice(colon + 1), what, allowZero) };
}

/** `[HOST:]PORT`, `ws://HOST[:PORT][/path]` or `wss://HOST[:PORT][/path]`; the path is the client's business. */
export function parseTarget(text: string): ProxyTarget {
  const value = text.trim();
  const scheme = /^(wss?):\/\//i.exec(value);
  if (scheme === null) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw new AddressError(`--target: only ws:// and wss:// URLs are understood, got "${text}"`);
    return { ...parseHostPort(value, 'localhost', '--target'), tls: false };
  }
  const tls = scheme[1]!.toLowerCase() === 'wss';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AddressError(`--target: "${text}" is not a valid URL`);
  }
  if (url.hostname === '') throw new AddressError(`--target: "${text}" has no host`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? (tls ? 443 : 80) : Number(url.port), tls };
}

/** `host:port`, with IPv6 addresses bracketed. */
export function formatHostPort(address: HostPort): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/**
 * Canonical text of a socket address as the packet decoder prints it: dotted quad for IPv4,
 * RFC 5952 for IPv6; an IPv4-mapped address (a dual-stack listener) becomes plain IPv4.
 */
export function canonicalIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  return isIP(ip) === 6 ? formatIpv6(parseIpv6(ip)) : ip;
}

/**
 * The two ends of a proxied conversation in one IP version, as a capture needs them: when the
 * client came over IPv6 and the target is IPv4 (or the reverse), the IPv4 one is written as
 * IPv4-mapped IPv6 (RFC 4291 §2.5.5.2).
 */
export function sameFamily(client: string, server: string): [string, string] {
  const a = canonicalIp(client);
  const b = canonicalIp(server);
  if (isIP(a) === isIP(b)) return [a, b];
  const v6 = (ip: string) => (isIP(ip) === 4 ? formatIpv6(parseIpv6(`::ffff:${ip}`)) : ip);
  return [v6(a), v6(b)];
}
