#!/usr/bin/env node
// The CLI as the package ships it: compiled JavaScript (npm run build), no TypeScript tooling at run time.
// In the repository, tests run the sources instead: node --import tsx src/cli/bin.ts.
import '../dist/cli/bin.js';
