/**
 * wsproxy's explicit proxy mode on the command line (`--mode proxy`, `--allow-hosts`,
 * `--ignore-hosts`, `--ca-dir`) and the `wsproxy ca` command, kept apart from the reverse mode's
 * options so that command grows by a call or two.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { HostPatternError, HostPatterns } from '../proxy/forward/hosts.js';
import type { ForwardOptions } from '../proxy/forward/explicit.js';
import { collect, parseProgram, UsageError, warn, type CliIo, type ViewOptions } from './common.js';

export interface ProxyModeCliOptions {
  mode: 'reverse' | 'proxy';
  allowHosts?: string[];
  ignoreHosts?: string[];
  caDir?: string;
}

function patterns(value: string, previous: string[] = []): string[] {
  const list = collect(value, previous);
  try {
    new HostPatterns(list);
  } catch (error) {
    if (error instanceof HostPatternError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  return list;
}

export function addProxyModeOptions(program: Command): Command {
  return program
    .addOption(new Option('--mode <mode>', 'reverse: relay every client to --target; proxy: be an HTTP proxy (CONNECT and http:// requests) that opens TLS with its own CA (wsproxy ca)').choices(['reverse', 'proxy']).default('reverse'))
    .option('--allow-hosts <patterns>', 'proxy mode: serve only these hosts (others get 403); host, *.domain, host:port, comma-separated, repeatable; required when listening beyond loopback', patterns)
    .option('--ignore-hosts <patterns>', 'proxy mode: pass these hosts\' tunnels through untouched (TLS not opened: for clients that pin their certificates)', patterns)
    .option('--ca-dir <dir>', 'proxy mode: where the CA lives (default $WSPROXY_CA_DIR, else $XDG_CONFIG_HOME/wsproxy or ~/.config/wsproxy)');
}

export interface ForwardSetup {
  forward: ForwardOptions;
  /** Lines for stderr at start: where the CA is, whether it was just made. */
  notes: string[];
}

/** The forward mode's options, with the CA loaded (made on first use). */
export async function forwardFrom(options: ProxyModeCliOptions & { insecure?: boolean }): Promise<ForwardSetup> {
  const { caDirectory, CaError, LeafMinter, loadOrCreateCa } = await import('../ca/authority.js');
  const dir = caDirectory(options.caDir);
  let ca;
  try {
    ca = loadOrCreateCa(dir);
  } catch (error) {
    if (error instanceof CaError) throw new UsageError(error.message);
    throw error;
  }
  const notes = [
    ca.created
      ? `wsproxy: created a CA in ${dir}: clients must trust ${ca.paths.cert} to have TLS opened (how: wsproxy ca)\n`
      : `wsproxy: TLS is opened with the CA ${ca.paths.cert} (wsproxy ca: how to trust it, or delete it)\n`,
  ];
  if (options.insecure) notes.push('wsproxy: --insecure: the targets\' certificates are not checked\n');
  return {
    forward: {
      allowHosts: options.allowHosts?.length ? new HostPatterns(options.allowHosts) : null,
      ignoreHosts: new HostPatterns(options.ignoreHosts ?? []),
      leaves: () => new LeafMinter(ca),
    },
    notes,
  };
}

/** `wsproxy ca`: where the CA is and how to trust it; `--delete` removes it. */
export async function caMain(argv: string[], io: CliIo): Promise<number> {
  const program = new Command('wsproxy ca')
    .description('Show where wsproxy\'s CA certificate is (creating the CA if there is none) and how to make clients trust it, or delete it.')
    .option('--delete', 'delete the CA (certificate and private key); remove it from the trust stores you added it to yourself')
    .option('--ca-dir <dir>', 'where the CA lives (default $WSPROXY_CA_DIR, else $XDG_CONFIG_HOME/wsproxy or ~/.config/wsproxy)');
  const parsed = parseProgram<ViewOptions & { delete?: boolean; caDir?: string }>(program, argv, io);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  const { caDirectory, CaError, deleteCa, loadOrCreateCa } = await import('../ca/authority.js');
  const dir = caDirectory(options.caDir);
  if (options.delete) {
    try {
      const had = deleteCa(dir);
      io.stdout.write(had ? `deleted the CA in ${dir}\nRemove "wsproxy CA" from the trust stores you added it to (see wsproxy ca before deleting, or README).\n` : `no CA in ${dir}: nothing to delete\n`);
      return 0;
    } catch (error) {
      warn(io, `wsproxy: cannot delete the CA in ${dir}: ${(error as Error).message}\n`);
      return 1;
    }
  }
  let ca;
  try {
    ca = loadOrCreateCa(dir);
  } catch (error) {
    if (error instanceof CaError) {
      warn(io, `wsproxy: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  io.stdout.write(caInstructions(ca.paths.cert, ca.paths.key, ca.spkiSha256, ca.created));
  return 0;
}

/** What `wsproxy ca` prints. */
export function caInstructions(cert: string, key: string, spki: string, created: boolean): string {
  return `${created ? 'Created a new CA.\n' : ''}CA certificate: ${cert}
Private key:    ${key} (readable by you only; whoever has it can impersonate any site
                to a client that trusts this CA: see SECURITY.md)

Trust it, then run wsproxy --mode proxy -l 8080 and set the client's proxy to 127.0.0.1:8080:
  Node clients:   NODE_EXTRA_CA_CERTS=${cert} node app.js
                  (with HTTPS_PROXY=http://127.0.0.1:8080 for clients that honour it)
  curl:           curl --cacert ${cert} -x http://127.0.0.1:8080 https://example.org/
  Chromium:       chrome://settings/certificates, Authorities, Import: the file above;
                  or, on Linux: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n wsproxy -i ${cert}
                  For a throwaway profile, no import:
                  chromium --proxy-server=127.0.0.1:8080 --ignore-certificate-errors-spki-list=${spki}
  Firefox:        Settings, Privacy & Security, Certificates, View Certificates, Authorities,
                  Import: the file above, tick "Trust this CA to identify websites"
  Debian/Ubuntu:  sudo cp ${cert} /usr/local/share/ca-certificates/wsproxy.crt
                  sudo update-ca-certificates
  Fedora/RHEL:    sudo cp ${cert} /etc/pki/ca-trust/source/anchors/ && sudo update-ca-trust
  macOS:          sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${cert}
  Windows:        certutil -addstore -f ROOT ${cert}

Remove it from those stores when you are done, and delete it: wsproxy ca --delete
`;
}
