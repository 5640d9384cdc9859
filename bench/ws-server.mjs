// The far end of bench/proxy.mjs, in its own process so it does not share a core with the
// client. "send N": send N binary messages of 1 MiB; "count": answer "got" once every 1 MiB
// message the client sent has arrived; "echo …": echo the text back.
import { WebSocketServer } from 'ws';

const MIB = 1024 * 1024;
const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, maxPayload: 2 * MIB });
const payload = Buffer.alloc(MIB, 0xa5);

wss.on('connection', (ws) => {
  let got = 0;
  let wantGot = false;
  ws.on('message', async (data, isBinary) => {
    if (isBinary) {
      got++;
      return;
    }
    const text = String(data);
    if (text.startsWith('echo ')) ws.send(text);
    else if (text.startsWith('send ')) {
      const n = Number(text.slice(5));
      for (let i = 0; i < n; i++) {
        if (ws.bufferedAmount > 8 * MIB) await new Promise((resolve) => ws.send(payload, resolve));
        else ws.send(payload);
      }
    } else if (text === 'count') {
      wantGot = true;
    }
    if (wantGot) {
      // "count" arrives after every binary message on the same ordered stream.
      ws.send('got');
      wantGot = false;
      got = 0;
    }
  });
});
wss.on('listening', () => process.stderr.write('listening\n'));
