/**
 * npx tsx bench/text-code-ab.ts [--n 100000] [--batch 1000]
 *
 * Texts at rest and per hit (issue 14), in Node, CPU time (process.cpuUsage), the same workload texts both
 * ways: IndexedDB <= 7's groups (deflate-raw of 32 documents' JSON, zlib here) against the word-level text
 * code (store/text-code.ts) packed as IdbStore packs it (store/idb-text-pack.ts: a model trained on the first
 * batch, a successor when a batch spells out too much). Prints bytes per document (groups, models), packing
 * CPU per document, and the CPU to get one hit's text back: inflate + JSON.parse of its group vs decoding its
 * document alone. Browser costs (IndexedDB, DecompressionStream) are bench/text-ab.ts's.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import os from 'node:os';
import { TextPacker } from '../src/store/idb-text-pack.ts';
import { decodeDoc, decoderModel, docSpans, resolveModel, type TextModel } from '../src/store/text-code.ts';
import { Workload } from './workload.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const n = opt('--n', 100_000);
const batch = opt('--batch', 1000);
const GROUP = 32;
const w = new Workload(n);
const texts = Array.from({ length: n }, (_, i) => w.docText(i));
const cpu = (f: () => void) => {
  const t = process.cpuUsage();
  f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
};

const deflated: Buffer[] = [];
const deflateMs = cpu(() => {
  for (let g = 0; g < n; g += GROUP) deflated.push(deflateRawSync(Buffer.from(JSON.stringify(texts.slice(g, g + GROUP).map((t) => [t])))));
});
const packer = new TextPacker(new Map());
const coded: { bytes: Uint8Array; model: number; rows: number }[] = [];
let packMs = 0;
for (let b = 0; b < n; b += batch) {
  const entries = texts.slice(b, b + batch).map((t): [string] => [t]);
  let made: { parts: Uint8Array[]; model?: number } = { parts: [] };
  const t = process.cpuUsage();
  made = await packer.pack(entries);
  const d = process.cpuUsage(t);
  packMs += (d.user + d.system) / 1000;
  made.parts.forEach((p, g) => coded.push({ bytes: p, model: made.model ?? -1, rows: Math.min(GROUP, entries.length - g * GROUP) }));
}
const modelIds = [...new Set(coded.map((c) => c.model))];
const records = new Map(modelIds.map((id) => [id, packer.record(id)!]));
for (const r of [...records.values()]) for (let b = r.base; b !== undefined; b = records.get(b)?.base) if (!records.has(b)) records.set(b, packer.record(b)!);
const models = new Map(modelIds.map((id) => [id, resolveModel(records, id) as TextModel]));
// As stored: each record's own runs (characters) and its code lengths and units.
const modelBytes = [...records.values()].reduce(
  (a, m) => a + m.syms.reduce((x, y) => x + y.length, 0) + m.lens.byteLength + m.units.byteLength + m.unitLens.byteLength,
  0,
);
const deflateBytes = deflated.reduce((a, b) => a + b.length, 0);
const codedBytes = coded.reduce((a, c) => a + c.bytes.length + 4, 0); // + its CRC-32

// One hit's text, 20,000 random hits: inflate + parse its group, or decode its document (spans + decode).
const decoders = new Map([...models].map(([id, m]) => [id, decoderModel(m)!]));
let seed = 7;
const hits = Array.from({ length: 20_000 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) % n);
let same = 0;
const inflateMs = cpu(() => {
  for (const h of hits) same += (JSON.parse(inflateRawSync(deflated[Math.floor(h / GROUP)]).toString()) as [string][])[h % GROUP][0] === texts[h] ? 1 : 0;
});
const decodeMs = cpu(() => {
  for (const h of hits) {
    // Groups restart with each batch.
    const within = h % batch;
    const c = coded[Math.floor(h / batch) * Math.ceil(batch / GROUP) + Math.floor(within / GROUP)];
    const r = within % GROUP;
    const at = docSpans(c.bytes, c.rows)!;
    same += decodeDoc(c.bytes, at[r], at[r + 1], decoders.get(c.model)!)![0] === texts[h] ? 1 : 0;
  }
});
const f = (x: number) => x.toFixed(1);
console.log(
  `n ${n}, batches of ${batch}, load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log(
  `deflate groups (IndexedDB <= 7): ${f(deflateBytes / n)} B/doc; pack ${f((deflateMs * 1000) / n)} us/doc CPU; a hit's text ${f((inflateMs * 1000) / hits.length)} us CPU (inflate + JSON.parse of its group)`,
);
console.log(
  `text code: ${f((codedBytes + modelBytes) / n)} B/doc (groups ${f(codedBytes / n)}, ${records.size} models ${f(modelBytes / n)}); pack ${f((packMs * 1000) / n)} us/doc CPU (training included); a hit's text ${f((decodeMs * 1000) / hits.length)} us CPU (its document decoded)`,
);
console.log(`every hit read back the same text: ${same === 2 * hits.length}`);
