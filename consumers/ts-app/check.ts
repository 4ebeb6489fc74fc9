// Type-checked (never run) under moduleResolution bundler and node16: the published .d.ts resolve for every
// entry point, and carry real types (each @ts-expect-error fails the check if a type degrades to any).
import { createM3Worker, IdbStore, M3Encoder, M3Error, M3Index, type Hit, type M3ErrorCode } from 'm3-search';
import { FileStore, M3Index as NodeIndex } from 'm3-search/node';
import m3search, { type M3SearchPluginOptions } from 'm3-search/vite';

export async function browser(): Promise<Hit[]> {
  const encoder = await M3Encoder.load({ model: '/models/bge-m3', device: 'wasm' });
  const index = await M3Index.open('docs', { encoder, store: new IdbStore('docs') });
  await index.add([{ id: 'a', text: 'hello' }]);
  // @ts-expect-error a document needs a text
  await index.add([{ id: 'b' }]);
  // @ts-expect-error k is a number
  await index.search('hello', { k: '3' });
  const worker = createM3Worker();
  const { hits } = await worker.search('hello');
  return hits;
}

export async function node(dir: string): Promise<number> {
  const index = await NodeIndex.open('docs', { store: new FileStore(dir), model: { modelId: 'm', dims: 4 } });
  return index.count();
}

export function errors(e: unknown): M3ErrorCode | undefined {
  if (e instanceof M3Error) {
    // @ts-expect-error codes are a closed set
    const bad: M3ErrorCode = 'NOT_A_CODE';
    return bad ?? e.code;
  }
  return undefined;
}

const options: M3SearchPluginOptions = { isolation: false, wasmPaths: '/ort/' };
export const plugin = m3search(options);
// @ts-expect-error isolation is a boolean
m3search({ isolation: 'yes' });
