import type { CaptureNotice } from './types.js';

/**
 * Reports the first packet cut by the snap length, once per capture: a capture taken with a
 * small snap length cuts nearly every packet, and one line says so as well as a thousand.
 */
export class SnapCutReporter {
  private reported = false;

  check(no: number, captured: number, original: number): CaptureNotice | undefined {
    if (this.reported || original <= captured) return undefined;
    this.reported = true;
    return {
      kind: 'notice',
      code: 'snaplen-cut',
      message:
        `packet ${no} was cut by the snap length: ${captured} of ${original} bytes captured ` +
        '(later cut packets are not reported; their payload is incomplete)',
      packet: no,
    };
  }
}
