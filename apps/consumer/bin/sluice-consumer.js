#!/usr/bin/env node
// The `sluice-consumer` bin. It is tracked and executable so npm can link it at install time, before dist/ is built.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const entry = join(__dirname, '..', 'dist', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('sluice-consumer: not built yet: run `npm run build` in the repository root first\n');
  process.exit(1);
}
require(entry);
