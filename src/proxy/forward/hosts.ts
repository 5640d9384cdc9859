/**
 * Host patterns of `--allow-hosts` and `--ignore-hosts`: which destinations the explicit proxy
 * serves at all, and which of them it passes through as raw bytes (never opening their TLS).
 *
 *   example.org        that host, any port
 *   *.example.org      its subdomains (not example.org itself), any port
 *   example.org:8443   that host on that port only
 *   10.0.0.5, [::1]:9000, *:443, *
 */
import { isIP } from 'node:net';

/** A pattern that cannot be read: the message says what was expected. */
export class HostPatternError extends Error {}

interface Pattern {
  text: string;
  /** Exact host, or the suffix after `*.` (with its dot), or null for `*`. */
  host: string | null;
  wildcard: boolean;
  port: number | null;
}

function parseOne(text: string): Pattern {
  let rest = text.trim().toLowerCase();
  let port: number | null = null;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) {
    if (isIP(bracketed[1]!) !== 6) throw new HostPatternError(`"${text}" is not an IPv6 address in brackets`);
    rest = bracketed[1]!;
    port = bracketed[2] !== undefined ? Number(bracketed[2]) : null;
  } else if (rest.includes(':')) {
    const colon = rest.lastIndexOf(':');
    if (rest.indexOf(':') !== colon || !/^\d+$/.test(rest.slice(colon + 1))) throw new HostPatternError(`"${text}" is not HOST, *.DOMAIN or HOST:PORT (IPv6 as [::1])`);
    port = Number(rest.slice(colon + 1));
    rest = rest.slice(0, colon);
  }
  if (port !== null && (port < 1 || port > 65535)) throw new HostPatternError(`"${text}": the port must be 1-65535`);
  if (rest === '*') return { text, host: null, wildcard: true, port };
  const wildcard = rest.startsWith('*.');
  const host = wildcard ? rest.slice(1) : rest;
  if (isIP(host) === 0 && !/^\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/.test(host)) throw new HostPatternError(`"${text}" is not a host name, address or *.domain`);
  return { text, host: host.replace(/\.$/, ''), wildcard, port };
}

/** A list of patterns (comma-separated, the option repeatable); empty matches nothing. */
export class HostPatterns {
  private readonly patterns: Pattern[];

  constructor(texts: readonly string[]) {
    this.patterns = texts.flatMap((t) => t.split(',')).filter((t) => t.trim() !== '').map(parseOne);
  }

  get size(): number {
    return this.patterns.length;
  }

  matches(host: string, port: number): boolean {
    const name = host.toLowerCase().replace(/\.$/, '');
    return this.patterns.some((p) => {
      if (p.port !== null && p.port !== port) return false;
      if (p.host === null) return true;
      return p.wildcard ? name.endsWith(p.host) && name.length > p.host.length : name === p.host;
    });
  }
}
