// The most wsproxy could relay on a given machine: a Node.js relay that forwards bytes
// and does nothing else (no dissection, no output), with TCP_NODELAY like wsproxy. Takes the
// arguments bench/proxy.mjs gives a wsproxy build, so it can stand in one:
//   BENCH_COMPARE=bench/forward-only-relay.mjs BENCH_ONLY=throughput npm run bench
// Loopback only by default, like wsproxy; stops on SIGINT or SIGTERM.
import net from 'node:net';
import { parseHostPort } from '../dist/index.js';

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
let listen;
let target;
try {
  listen = parseHostPort(arg('--listen') ?? '9000', '127.0.0.1', '--listen');
  target = parseHostPort(arg('--target') ?? '8080', 'localhost', '--target');
} catch (err) {
  process.stderr.write(`forward-only-relay: ${err.message}\n`);
  process.exit(1);
}

const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  const upstream = net.connect({ ...target, noDelay: true, allowHalfOpen: true });
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
server.listen(listen.port, listen.host, () => process.stderr.write(`forward-only relay on ${listen.host}:${listen.port}; Ctrl-C to stop\n`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
