// wsproxy --script examples/wsproxy/redact-token.mjs: the target never sees a token the client
// sends ("token": "…" in JSON, or token=… in text); the client's own view is unchanged.
const TOKEN = /("token"\s*:\s*")[^"]*(")|(\btoken=)[^&\s"]+/g;

export function onMessage(message) {
  if (message.from !== 'client' || message.text === undefined) return;
  const redacted = message.text.replace(TOKEN, (_, a, b, c) => (a !== undefined ? `${a}[redacted]${b}` : `${c}[redacted]`));
  if (redacted !== message.text) return redacted;
}
