#!/usr/bin/env node
// Entry point. sluice ships its TypeScript sources and runs them with Node 24's built-in
// type stripping, so there is no build step between a clone and `npm start`.
import { main } from '../src/cli/main.ts';

const code = await main(process.argv.slice(2));
// A command that has finished exits now (once its output is written), even if a library
// left a timer behind.
process.stdout.write('', () => process.exit(code));
