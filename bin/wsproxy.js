#!/usr/bin/env node
import { main } from '../dist/cli/wsproxy.js';

process.exitCode = await main(process.argv);
