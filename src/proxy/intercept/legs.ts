/**
 * `--write` while the proxy changes traffic: the two legs of a connection are different
 * conversations, so each is recorded as its own TCP connection in the capture. The client leg
 * (client ↔ the proxy's listening address) holds what the client sent and what it received from
 * the proxy; the target leg (the proxy's own address ↔ the target) what the proxy sent the
 * target and what the target answered. Opening the file in wsdump or Wireshark shows each side's
 * view of the conversation, one after the other connection number.
 */
import type { Direction } from '../../alerts.js';
import type { RecordedPacket, RecorderEndpoint } from '../../capture/tcp-recorder.js';
import { TcpConversationRecorder } from '../../capture/tcp-recorder.js';
import type { CaptureRecording } from '../tap.js';
import { captureClock } from '../tap.js';

type Leg = 'client' | 'target';

export class LegRecording {
  private readonly legs: Record<Leg, TcpConversationRecorder | null>;
  private readonly finished: Record<Leg, Set<Direction>> = { client: new Set(), target: new Set() };

  constructor(
    private readonly recording: CaptureRecording,
    ends: { client: RecorderEndpoint; listen: RecorderEndpoint; local: RecorderEndpoint; target: RecorderEndpoint },
    private readonly onError: (error: unknown) => void,
  ) {
    this.legs = {
      client: new TcpConversationRecorder({ client: ends.client, server: ends.listen }),
      target: new TcpConversationRecorder({ client: ends.local, server: ends.target }),
    };
    const ts = captureClock();
    this.write('client', (r) => r.open(ts));
    this.write('target', (r) => r.open(ts));
  }

  /** Bytes `from` sent, as the proxy received them. */
  received(from: Direction, bytes: Uint8Array): void {
    const leg: Leg = from === 'client' ? 'client' : 'target';
    this.data(leg, from, bytes);
  }

  /** Bytes the proxy sent on from `from`, as the other side receives them. */
  sent(from: Direction, bytes: Uint8Array): void {
    const leg: Leg = from === 'client' ? 'target' : 'client';
    this.data(leg, from, bytes);
  }

  /** `from`'s FIN, as received (on its own leg) or passed on (on the other). */
  ended(from: Direction, passedOn: boolean): void {
    const leg: Leg = (from === 'client') === passedOn ? 'target' : 'client';
    if (this.finished[leg].has(from)) return;
    this.finished[leg].add(from);
    const ts = captureClock();
    this.write(leg, (r) => (r.canSend(from) ? r.close(from, ts) : []));
  }

  /** A reset: both legs end with one (the relay resets the other side too). */
  reset(from: Direction): void {
    const ts = captureClock();
    this.write('client', (r) => r.reset(from, ts));
    this.write('target', (r) => r.reset(from, ts));
    this.legs.client = this.legs.target = null;
  }

  private data(leg: Leg, from: Direction, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const ts = captureClock();
    this.write(leg, (r) => (r.canSend(from) ? r.data(from, bytes, ts) : []));
  }

  private write(leg: Leg, make: (recorder: TcpConversationRecorder) => RecordedPacket[]): void {
    const recorder = this.legs[leg];
    if (recorder === null || !this.recording.active) return;
    try {
      this.recording.write(make(recorder));
    } catch (error) {
      this.legs.client = this.legs.target = null;
      this.onError(error);
    }
  }
}
