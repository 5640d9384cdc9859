export { openCapture, type OpenCaptureOptions, type OpenedCapture } from './open-capture.js';
export {
  DEFAULT_SNAP_LENGTH,
  writePcapHeader,
  writePcapRecord,
  type PcapRecord,
  type PcapWriterOptions,
} from './pcap-writer.js';
export {
  CaptureFormatError,
  DAMAGE_NOTICES,
  SECRETS_TLS_KEY_LOG,
  type CaptureSecrets,
  type CaptureInfo,
  type CaptureItem,
  type CaptureNotice,
  type CapturePacket,
} from './types.js';
export { buildPcapFile, LINKTYPE_ETHERNET, PcapStreamWriter, type PcapFileOptions } from './pcap-file-writer.js';
export {
  TcpConversationRecorder,
  type RecordedPacket,
  type RecorderEndpoint,
  type TcpConversationOptions,
} from './tcp-recorder.js';
