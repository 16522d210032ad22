#!/usr/bin/env node
// The CLI is TypeScript (scripts/cli.ts); tsx, the project's TypeScript runner, loads it.
require('tsx/cjs');
require('../scripts/cli.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
