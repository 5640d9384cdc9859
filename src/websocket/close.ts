import { makeAlert, type Alert, type AlertExtra } from '../alerts.js';
import { closeCodeName, isValidCloseCode } from './constants.js';
import type { CloseInfo } from './types.js';
import { decodeUtf8Lossy, isValidUtf8 } from './utf8.js';

/**
 * RFC 6455 §5.5.1: a Close body is empty, or a 2-byte big-endian code followed by a UTF-8
 * reason. An empty body is reported as 1005 (No Status Received), which §7.4.1 reserves for
 * exactly this purpose and forbids on the wire.
 */
export function decodeClose(data: Uint8Array, where: AlertExtra = {}): { close: CloseInfo; alerts: Alert[] } {
  const alerts: Alert[] = [];
  if (data.length === 0) {
    return { close: { code: null, codeName: 'No Status Received (no code sent)', reason: '', reasonValid: true }, alerts };
  }
  if (data.length === 1) {
    alerts.push(makeAlert('close.payload-one-byte', 'Close payload is 1 byte: a close code needs 2 bytes.', { ...where, detail: { byte: data[0]! } }));
    return { close: { code: null, codeName: 'Malformed (1-byte payload)', reason: '', reasonValid: false }, alerts };
  }
  const code = (data[0]! << 8) | data[1]!;
  if (!isValidCloseCode(code)) {
    alerts.push(makeAlert('close.code-invalid', `Close code ${code} (${closeCodeName(code)}) must not be sent in a Close frame.`, { ...where, detail: { code } }));
  }
  const reasonBytes = data.subarray(2);
  const reasonValid = isValidUtf8(reasonBytes);
  if (!reasonValid) {
    alerts.push(makeAlert('close.reason-utf8-invalid', `Close reason (${reasonBytes.length} bytes) is not valid UTF-8.`, where));
  }
  return { close: { code, codeName: closeCodeName(code), reason: decodeUtf8Lossy(reasonBytes), reasonValid }, alerts };
}
