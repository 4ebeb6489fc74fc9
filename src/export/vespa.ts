/**
 * Vespa export: an application package (services.xml + schemas/m3.sd) and a feed file of put operations
 * as JSON lines (`vespa feed feed.jsonl`). Field names follow Vespa's BGE-M3 sample: `lexical_rep` (mapped
 * tensor over token ids), `dense_rep` (indexed tensor), `colbert_rep` (mixed tensor, one block per vector)
 * when the index keeps ColBERT vectors.
 *
 * Cells are float, not bfloat16: bfloat16 keeps 8 bits of mantissa, which moves scores by ~1e-3 and would
 * break the score parity with m3-search; switch to bfloat16 knowingly when memory matters more.
 * The rank profile `m3` is M3's compute_score, the same weighted mean as m3-search's `weighted` fusion.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_WEIGHTS } from '../search/search-options.ts';
import { f32, f32s, type ExportRow, type ExportSource } from './reader.ts';
import { LineWriter } from './write.ts';

export const VESPA_FILES = { services: 'application/services.xml', schema: 'application/schemas/m3.sd', feed: 'feed.jsonl' } as const;
export const VESPA_NAMESPACE = 'm3';
export const VESPA_DOCTYPE = 'm3';

export function vespaSchema(dims: number, colbert: boolean, w = DEFAULT_WEIGHTS): string {
  const weights = colbert ? { dense: w.dense, sparse: w.sparse, colbert: w.colbert } : { dense: w.dense, sparse: w.sparse, colbert: 0 };
  const wsum = weights.dense + weights.sparse + weights.colbert;
  const colbertField = colbert
    ? `
        field colbert_rep type tensor<float>(t{}, x[${dims}]) {
            indexing: attribute
        }`
    : '';
  const colbertInputs = colbert
    ? `
            query(q_colbert) tensor<float>(qt{}, x[${dims}])
            query(q_len_colbert) float`
    : '';
  const colbertFn = colbert
    ? `
        function max_sim() {
            expression: sum(reduce(sum(query(q_colbert) * attribute(colbert_rep), x), max, t), qt) / query(q_len_colbert)
        }`
    : '';
  const score = [`${weights.dense} * dense`, `${weights.sparse} * lexical`, ...(colbert ? [`${weights.colbert} * max_sim`] : [])].join(' + ');
  return `# Written by m3-search export --to vespa: BGE-M3 dense, lexical${colbert ? ' and ColBERT' : ''} vectors (${dims} dims).
schema ${VESPA_DOCTYPE} {
    document ${VESPA_DOCTYPE} {
        field doc_id type string {
            indexing: summary | attribute
        }
        field passage type int {
            indexing: summary | attribute
        }
        field text type string {
            indexing: summary | index
            index: enable-bm25
        }
        field metadata type string {
            indexing: summary
        }
        field lexical_rep type tensor<float>(t{}) {
            indexing: summary | attribute
        }
        field dense_rep type tensor<float>(x[${dims}]) {
            indexing: summary | attribute
            attribute {
                distance-metric: dotproduct
            }
        }${colbertField}
    }
    fieldset default {
        fields: text
    }
    # M3's compute_score: (w_dense*dense + w_sparse*lexical${colbert ? ' + w_colbert*maxsim' : ''}) / sum of weights,
    # with m3-search's default weights; equal to m3-search's 'weighted' fusion with bm25 weight 0.
    rank-profile m3 {
        inputs {
            query(q_dense) tensor<float>(x[${dims}])
            query(q_lexical) tensor<float>(t{})${colbertInputs}
        }
        function dense() {
            expression: sum(query(q_dense) * attribute(dense_rep))
        }
        function lexical() {
            expression: sum(query(q_lexical) * attribute(lexical_rep))
        }${colbertFn}
        first-phase {
            expression: (${score}) / ${wsum}
        }
        match-features: dense lexical${colbert ? ' max_sim' : ''}
    }
}
`;
}

export const VESPA_SERVICES = `<?xml version="1.0" encoding="utf-8" ?>
<!-- Written by m3-search export --to vespa: one container and one content cluster for the m3 schema. -->
<services version="1.0">
    <container id="default" version="1.0">
        <search />
        <document-api />
    </container>
    <content id="m3" version="1.0">
        <redundancy>1</redundancy>
        <documents>
            <document type="${VESPA_DOCTYPE}" mode="index" />
        </documents>
        <nodes>
            <node hostalias="node1" distribution-key="0" />
        </nodes>
    </content>
</services>
`;

export function vespaPut(row: ExportRow): Record<string, unknown> {
  const fields: Record<string, unknown> = { doc_id: row.docId, passage: row.passage, text: row.text };
  const meta = { ...(row.metadata ?? {}), ...(row.span ? { _span: row.span } : {}) };
  if (Object.keys(meta).length) fields.metadata = JSON.stringify(meta);
  if (row.sparse?.ids.length) {
    const cells: Record<string, number> = {};
    row.sparse.ids.forEach((id, i) => (cells[String(id)] = f32(row.sparse!.weights[i])));
    fields.lexical_rep = cells; // short form for a single mapped dimension
  }
  if (row.dense) fields.dense_rep = f32s(row.dense); // indexed short form
  if (row.colbert?.length) {
    const blocks: Record<string, number[]> = {};
    row.colbert.forEach((v, i) => (blocks[String(i)] = f32s(v)));
    fields.colbert_rep = blocks; // mixed short form: one dense block per label
  }
  return { put: `id:${VESPA_NAMESPACE}:${VESPA_DOCTYPE}::${row.pointId}`, fields };
}

export async function exportVespa(src: ExportSource, out: string): Promise<{ points: number; files: string[] }> {
  await mkdir(join(out, 'application/schemas'), { recursive: true });
  await writeFile(join(out, VESPA_FILES.services), VESPA_SERVICES);
  await writeFile(join(out, VESPA_FILES.schema), vespaSchema(src.meta.dims, src.meta.colbert));
  const w = await LineWriter.create(join(out, VESPA_FILES.feed));
  try {
    for await (const row of src.rows()) await w.write(vespaPut(row));
  } finally {
    await w.close();
  }
  return { points: w.lines, files: Object.values(VESPA_FILES) };
}

export function fromVespaPut(op: any) {
  const f = op.fields;
  const meta = f.metadata ? JSON.parse(f.metadata) : {};
  delete meta._span;
  const lex: Record<string, number> = f.lexical_rep ?? {};
  const ids = Object.keys(lex)
    .map(Number)
    .sort((a, b) => a - b);
  return {
    docId: f.doc_id as string,
    text: f.text as string,
    metadata: Object.keys(meta).length ? meta : null,
    passage: f.passage as number,
    ...(f.dense_rep ? { dense: f.dense_rep as number[] } : {}),
    sparse: { ids, weights: ids.map((i) => lex[String(i)]) },
    ...(f.colbert_rep
      ? {
          colbert: Object.keys(f.colbert_rep)
            .sort((a, b) => Number(a) - Number(b))
            .map((k) => f.colbert_rep[k] as number[]),
        }
      : {}),
  };
}
