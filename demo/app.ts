/**
 * The demo's shared state: one worker client, the loaded model, the open index, the running ingest.
 * Panels call into it and subscribe to `changed` to redraw.
 */
// The worker client only: the encoder and index code load inside the worker, not on this thread.
import { createM3Worker, type M3WorkerClient } from '../src/worker/client.ts';
import type { EncoderInfo, IndexDoc } from '../src/index.ts';

export const TINY_MODEL = '/models/tiny-m3';

export interface IngestView {
  done: number;
  total: number;
  startedAt: number;
  /** Tokens encoded so far (the encoder's real work: documents vary in length, tokens don't). */
  tokens: number;
  /** The device and dtype doing the encoding, e.g. "WASM q8". */
  device: string;
}

export class App {
  readonly client: M3WorkerClient = createM3Worker();
  encoder: EncoderInfo | null = null;
  indexReady = false;
  private ingest: AbortController | null = null;
  private readonly listeners = new Set<(what: 'model' | 'index' | 'ingest') => void>();

  on(fn: (what: 'model' | 'index' | 'ingest') => void): void {
    this.listeners.add(fn);
  }

  emit(what: 'model' | 'index' | 'ingest'): void {
    for (const fn of this.listeners) fn(what);
  }

  get isTestModel(): boolean {
    return this.encoder?.modelId === 'tiny-m3';
  }

  get indexing(): boolean {
    return this.ingest !== null;
  }

  /** One index per model identity (dtype included: WebGPU fp16 and WASM q8 vectors differ), so switching never mixes vectors. */
  indexName(info: EncoderInfo): string {
    return `demo:${info.modelId}:${info.dtype}:${info.headHash.slice(0, 12)}`;
  }

  async openIndex(colbert: boolean): Promise<number> {
    if (!this.encoder) throw new Error('no model loaded');
    this.indexReady = false;
    const info = await this.client.openIndex(this.indexName(this.encoder), { colbert: colbert && this.encoder.heads.colbert });
    this.indexReady = true;
    this.emit('index');
    return info.count;
  }

  /** Adds or replaces documents in the worker; progress goes to `onProgress`. Throws AbortError on cancel. */
  async index(docs: IndexDoc[], onProgress: (v: IngestView) => void): Promise<number> {
    this.cancelIndexing();
    const controller = new AbortController();
    this.ingest = controller;
    this.emit('ingest');
    const device = this.encoder ? `${this.encoder.device.toUpperCase()} ${this.encoder.dtype}` : '?';
    const view: IngestView = { done: 0, total: docs.length, startedAt: performance.now(), tokens: 0, device };
    onProgress(view);
    try {
      // About 50 progress steps, each a whole transaction (a cancel keeps whole batches only).
      const batchSize = Math.max(8, Math.min(256, Math.ceil(docs.length / 50)));
      const { upserted } = await this.client.upsert(docs, {
        batchSize,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'encode') view.tokens += p.tokens ?? 0;
          else if (p.phase === 'write') view.done = p.done;
          else return;
          onProgress(view);
        },
      });
      return upserted;
    } finally {
      if (this.ingest === controller) this.ingest = null;
      this.emit('ingest');
      this.emit('index');
    }
  }

  cancelIndexing(): void {
    this.ingest?.abort();
    this.ingest = null;
  }
}

export function errorText(e: unknown): string {
  const m = (e as { message?: string })?.message ?? String(e);
  return m.replace(/^Error: /, '');
}
