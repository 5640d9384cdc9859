// wsproxy --script examples/wsproxy/delay-event.mjs: adds 500 ms of latency to one Socket.IO
// event name ("typing"), both ways; everything else goes on at once. A held message holds back
// the ones behind it in the same direction, as a slow link would.
export function onMessage(message, ctx) {
  if (ctx.app.some((a) => a.protocol === 'socket.io' && a.name === 'typing')) return { delay: 500 };
}
