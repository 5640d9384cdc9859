// wsproxy --script for bench/proxy.mjs: hooks that change nothing, so the path measures what
// running a script costs by itself (every message cut out, reassembled and shown to onMessage).
export function onMessage() {}
