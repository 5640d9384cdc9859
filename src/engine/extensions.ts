import type { HandshakeVerdict } from '../http/handshake.js';
import type { Extension } from '../websocket/extension.js';
import { permessageDeflate } from '../websocket/permessage-deflate.js';

/**
 * The decoders for what the handshake negotiated. An accepted extension we cannot decode adds
 * nothing here: its RSV bits then show up as unnegotiated, which is the honest report.
 */
export function extensionsFor(verdict: Pick<HandshakeVerdict, 'deflate'>): Extension[] {
  const d = verdict.deflate;
  if (d === null) return [];
  return [
    permessageDeflate({
      client: { noContextTakeover: d.clientNoContextTakeover, maxWindowBits: d.clientMaxWindowBits ?? 15 },
      server: { noContextTakeover: d.serverNoContextTakeover, maxWindowBits: d.serverMaxWindowBits ?? 15 },
    }),
  ];
}
