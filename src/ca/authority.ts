/**
 * wsproxy's local certificate authority, for `--mode proxy`'s TLS interception: created on first
 * use in a per-user directory (the key readable by the user only), then a leaf certificate per
 * host name a client asks for (its SNI), minted on the fly and kept in memory.
 *
 * X.509 is built with node-forge (loaded on first use only: the rest of wsproxy never needs it);
 * keys and signatures come from node:crypto. forge's own RSA is pure JavaScript (~40 ms a
 * signature, measured), node:crypto's takes well under a millisecond, so forge is handed a key
 * whose `sign` is node:crypto's. forge signs only with RSA, hence an RSA CA.
 *
 * Every leaf carries the CA's own public key, as mitmproxy's do: one key pair to generate and
 * keep, a leaf is a signature away, and a client told to trust the CA's key by its hash
 * (Chromium's --ignore-certificate-errors-spki-list) trusts every leaf. The leaf's key is only
 * as secret as the CA's, which is the secret anyway.
 */
import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, privateEncrypt, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { onFirstUse } from '../lazy.js';

const loadForge = onFirstUse<typeof import('node-forge')>('node-forge');

/** The CA could not be created or read: a one-line message. */
export class CaError extends Error {}

export const CA_CERT_FILE = 'wsproxy-ca.pem';
export const CA_KEY_FILE = 'wsproxy-ca-key.pem';

/**
 * Where the CA lives: `dir` when given (--ca-dir), else $WSPROXY_CA_DIR, else
 * $XDG_CONFIG_HOME/wsproxy, else ~/.config/wsproxy (the XDG Base Directory default).
 */
export function caDirectory(dir?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (dir !== undefined && dir !== '') return dir;
  if (env['WSPROXY_CA_DIR']) return env['WSPROXY_CA_DIR'];
  const config = env['XDG_CONFIG_HOME'] || join(homedir(), '.config');
  return join(config, 'wsproxy');
}

export interface CaPaths {
  dir: string;
  cert: string;
  key: string;
}

export function caPaths(dir: string): CaPaths {
  return { dir, cert: join(dir, CA_CERT_FILE), key: join(dir, CA_KEY_FILE) };
}

/**
 * Names are UTF8String (RFC 5280 §4.1.2.6): forge's default, PrintableString, has no `@` or `_`,
 * and Chromium refuses a certificate whose name breaks its string type (ERR_SSL_SERVER_CERT_BAD_FORMAT).
 */
// (@types/node-forge calls the field a Class; forge reads it as the universal tag number.)
const UTF8 = 12 as unknown as import('node-forge').asn1.Class;

/** Years a CA stays valid; a leaf, one year (minted again at each run). */
const CA_YEARS = 10;
const DAY = 86_400_000;

/** A positive serial of 16 random bytes (RFC 5280 §4.1.2.2: at most 20 octets). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

/** DigestInfo of SHA-256 before the digest (RFC 8017 §9.2, note 1): with it, PKCS#1 v1.5 padding is RSASSA-PKCS1-v1_5. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** What forge's `certificate.sign` calls: its SHA-256 of the to-be-signed bytes, signed by node:crypto. */
function signerFor(key: KeyObject): { sign(md: { digest(): { getBytes(): string } }): string } {
  return {
    sign(md) {
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, digest])).toString('binary');
    },
  };
}

function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'ENOENT') return 'no such file or directory';
  return e.message ?? String(error);
}

function newCa(): { certPem: string; keyPem: string } {
  const forge = loadForge();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = serial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - DAY);
  cert.validity.notAfter = new Date(now + CA_YEARS * 365 * DAY);
  let who = 'user';
  try {
    who = `${userInfo().username}@${hostname()}`;
  } catch {
    // No user name (a container without /etc/passwd entry): the generic one will do.
  }
  // The name says whose it is, so a user who finds it in a trust store knows where it came from.
  const name = [
    { name: 'commonName', value: `wsproxy CA (${who}, ${new Date(now).toISOString().slice(0, 10)})`, valueTagClass: UTF8 },
    { name: 'organizationName', value: 'wsproxy local interception CA', valueTagClass: UTF8 },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(signerFor(privateKey) as never, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Writes a file that must not exist yet, with `mode`; false when another process made it first. */
function create(path: string, data: string, mode: number): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
  return true;
}

export interface LoadedCa {
  paths: CaPaths;
  certPem: string;
  key: KeyObject;
  /** True when this call created it. */
  created: boolean;
  /** base64 SHA-256 of the CA's SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list; also every leaf's). */
  spkiSha256: string;
}

/** Reads the CA in `dir`, creating it (dir 0700, key 0600) when there is none. */
export function loadOrCreateCa(dir: string): LoadedCa {
  const paths = caPaths(dir);
  let created = false;
  try {
    if (!existsSync(paths.key)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const { certPem, keyPem } = newCa();
      // The key first and exclusively: two proxies started at once make one CA, the second reads it.
      if (create(paths.key, keyPem, 0o600)) {
        chmodSync(paths.key, 0o600);
        writeCert(paths.cert, certPem);
        chmodSync(dir, 0o700);
        created = true;
      }
    }
  } catch (error) {
    throw new CaError(`cannot create the CA in ${dir}: ${describe(error)}`);
  }
  let keyPem: string;
  let certPem: string;
  try {
    if (process.platform !== 'win32' && (statSync(paths.key).mode & 0o077) !== 0) {
      throw new CaError(`the CA key ${paths.key} is readable by other users: chmod 600 it, or delete the CA (wsproxy ca --delete)`);
    }
    keyPem = readFileSync(paths.key, 'utf8');
    certPem = readFileSync(paths.cert, 'utf8');
  } catch (error) {
    if (error instanceof CaError) throw error;
    throw new CaError(`cannot read the CA in ${dir}: ${describe(error)} (wsproxy ca --delete starts afresh)`);
  }
  let key: KeyObject;
  let x509: X509Certificate;
  try {
    key = createPrivateKey(keyPem);
    x509 = new X509Certificate(certPem);
  } catch (error) {
    throw new CaError(`the CA in ${dir} is damaged: ${describe(error)} (wsproxy ca --delete starts afresh)`);
  }
  if (!x509.checkPrivateKey(key)) throw new CaError(`the CA certificate and key in ${dir} do not belong together (wsproxy ca --delete starts afresh)`);
  if (key.asymmetricKeyType !== 'rsa') throw new CaError(`the CA key in ${dir} is not RSA (wsproxy ca --delete starts afresh)`);
  return { paths, certPem, key, created, spkiSha256: spkiHash(x509) };
}

function writeCert(path: string, pem: string): void {
  // The certificate is public: 0644, so a browser's import dialog run as the same user (or root) reads it.
  if (!create(path, pem, 0o644)) {
    rmSync(path);
    create(path, pem, 0o644);
  }
}

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo, DER. */
export function spkiHash(cert: X509Certificate): string {
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

/** Deletes the CA's files (and the directory when that leaves it empty). False when there was none. */
export function deleteCa(dir: string): boolean {
  const paths = caPaths(dir);
  const had = existsSync(paths.key) || existsSync(paths.cert);
  rmSync(paths.key, { force: true });
  rmSync(paths.cert, { force: true });
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (the user keeps other things there) or already gone: leave it.
  }
  return had;
}

/** Leaves minted at most this many per run are kept; beyond, the oldest is minted again when asked. */
const MAX_CACHED = 1000;

/** Leaf certificates per host name, signed by the CA, as TLS server contexts; cached in memory. */
export class LeafMinter {
  private readonly cache = new Map<string, SecureContext>();
  private readonly keyPem: string;
  private readonly publicKeyPem: string;
  private readonly caCert: import('node-forge').pki.Certificate;
  private readonly caKeyId: string;

  constructor(private readonly ca: LoadedCa) {
    this.keyPem = ca.key.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.publicKeyPem = createPublicKey(ca.key).export({ type: 'spki', format: 'pem' }).toString();
    this.caCert = loadForge().pki.certificateFromPem(ca.certPem);
    this.caKeyId = this.caCert.generateSubjectKeyIdentifier().getBytes();
  }

  get minted(): number {
    return this.cache.size;
  }

  /** The server context for `host` (a name or an IP address), minted the first time. */
  contextFor(host: string): SecureContext {
    const name = host.toLowerCase().replace(/\.$/, '');
    let context = this.cache.get(name);
    if (context === undefined) {
      context = createSecureContext({ key: this.keyPem, cert: this.mint(name) });
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(name, context);
    }
    return context;
  }

  /** A leaf for `name`: subjectAltName is what clients check (RFC 6125 §6.4.4; Chromium ignores the CN). */
  mint(name: string): string {
    const forge = loadForge();
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(this.publicKeyPem);
    cert.serialNumber = serial();
    const now = Date.now();
    // A day back for clocks behind ours; a year on, the limit browsers accept for leaves.
    cert.validity.notBefore = new Date(now - DAY);
    cert.validity.notAfter = new Date(now + 365 * DAY);
    cert.setSubject([{ name: 'commonName', value: name.slice(0, 64), valueTagClass: UTF8 }]);
    cert.setIssuer(this.caCert.subject.attributes);
    const altName = isIP(name) !== 0 ? { type: 7, ip: name } : { type: 2, value: name };
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [altName] },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.caKeyId },
    ]);
    cert.sign(signerFor(this.ca.key) as never, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  }
}
