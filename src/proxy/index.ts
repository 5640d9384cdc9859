export { startProxy, ProxyError, type ProxyOptions, type RunningProxy } from './proxy.js';
export { parseHostPort, parseTarget, formatHostPort, AddressError, type HostPort, type ProxyTarget } from './address.js';
export { BoundedOutput, DEFAULT_MAX_PENDING_OUTPUT, type BoundedOutputOptions } from './bounded-output.js';
export { DEFAULT_MAX_BUFFERED } from './relay.js';
export { ConnectionTap, CaptureRecording, captureClock, type ConnectionTapOptions, type CaptureRecordingOptions } from './tap.js';
export { TapQueue, DEFAULT_MAX_TAP_BACKLOG, type TapQueueOptions } from './tap-queue.js';
