// wsproxy --script examples/wsproxy/socketio-rewrite.mjs: rewrites the first argument of every
// Socket.IO "chat" event the server sends (its text in capitals). ctx.app is what wsproxy's
// application layer made of the message; the packet's own text is rebuilt around new arguments.
export function onMessage(message, ctx) {
  if (message.from !== 'server') return;
  const event = ctx.app.find((a) => a.protocol === 'socket.io' && a.kind === 'event');
  if (event?.name !== 'chat') return;
  // 42["chat",{…}] or 42/nsp,7["chat",…]: the arguments are the JSON array after the header.
  const at = message.text.indexOf('[');
  const [name, first, ...rest] = JSON.parse(message.text.slice(at));
  const changed = typeof first === 'string' ? first.toUpperCase() : { ...first, text: String(first?.text ?? '').toUpperCase() };
  return message.text.slice(0, at) + JSON.stringify([name, changed, ...rest]);
}
