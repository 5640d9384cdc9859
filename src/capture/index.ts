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
  type CaptureInfo,
  type CaptureItem,
  type CaptureNotice,
  type CapturePacket,
} from './types.js';
