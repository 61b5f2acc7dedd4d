#!/usr/bin/env node
// The `dmabuf` command: see lib/cli/main.ts (built to dist/cli/main.js).
import { main } from '../dist/cli/main.js';

process.exitCode = main(process.argv.slice(2));
