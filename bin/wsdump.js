#!/usr/bin/env node
import { main } from '../dist/cli/wsdump.js';

process.exitCode = await main(process.argv);
