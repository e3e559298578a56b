#!/usr/bin/env node
import { text } from 'node:stream/consumers';
import { main } from './main.js';

const abort = new AbortController();
// The first Ctrl-C ends watch/follow cleanly; a second one ends the process at once.
process.once('SIGINT', () => {
  abort.abort();
  process.once('SIGINT', () => process.exit(130));
});
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: abort.signal,
  readStdin: () => text(process.stdin),
});
