#!/usr/bin/env node
import { main } from '../dist/cli/wsproxy.js';

process.exitCode = await main(process.argv);
// main() has flushed what it could within --grace and given up the rest (said on stderr); a
// write still pending on a stdout that nobody reads must not keep the process alive.
setTimeout(() => process.exit(), 200).unref();
