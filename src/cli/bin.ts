/** The `m3-search` command: bin/m3-search.js runs the compiled copy of this file (dist/cli/bin.js). */
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
