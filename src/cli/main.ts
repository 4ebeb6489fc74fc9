/** `m3-search <command>`: dispatches to one module per command. */
const COMMANDS: Record<string, { about: string; run: () => Promise<(argv: string[]) => Promise<number>> }> = {
  encode: { about: 'encode stdin lines to JSON lines (dense, sparse, colbert)', run: async () => (await import('./encode.ts')).runEncode },
  probe: { about: 'write m3-probe.json: known answers that verify a WebGPU device', run: async () => (await import('./probe.ts')).runProbe },
  index: { about: 'index JSON-lines documents into a folder', run: async () => (await import('./build-index.ts')).runIndex },
  search: { about: 'search an index folder (one query, or --queries FILE for a TREC run)', run: async () => (await import('./search.ts')).runSearch },
  tune: { about: "tune the index's sparse head on its documents (--revert goes back)", run: async () => (await import('./tune.ts')).runTune },
  export: { about: 'write an index for Qdrant, Milvus or Vespa (--to ENGINE --out DIR)', run: async () => (await import('./export.ts')).runExport },
  'convert-heads': {
    about: "convert BAAI's sparse_linear.pt / colbert_linear.pt to safetensors",
    run: async () => (await import('./convert-heads.ts')).runConvertHeads,
  },
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const entry = command ? COMMANDS[command] : undefined;
  if (!entry) {
    const list = Object.entries(COMMANDS)
      .map(([name, c]) => `  ${name.padEnd(14)} ${c.about}`)
      .join('\n');
    const out = `usage: m3-search <command> [options]\n\ncommands:\n${list}\n`;
    if (command && command !== '--help' && command !== 'help') {
      process.stderr.write(`unknown command "${command}"\n\n${out}`);
      return 2;
    }
    process.stdout.write(out);
    return 0;
  }
  try {
    return await (await entry.run())(rest);
  } catch (e: any) {
    process.stderr.write(`m3-search ${command}: ${e?.message ?? e}\n`);
    return 1;
  }
}
