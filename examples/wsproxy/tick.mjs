// wsproxy --script examples/wsproxy/tick.mjs: the client receives a message of the proxy's own
// every second, as if the server had sent it; the target never hears of it.
export function onOpen(ctx) {
  ctx.state.timer = setInterval(() => ctx.send('client', JSON.stringify({ type: 'tick', at: new Date().toISOString() })), 1000);
}

export function onClose(ctx) {
  clearInterval(ctx.state.timer);
}
