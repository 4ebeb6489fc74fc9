/**
 * Where a model lives and how its files are fetched: a Hugging Face hub id, a URL (self-hosted folder) or,
 * in Node, a local folder. Transformers.js loads the ONNX graph and tokenizer; the two head files are read
 * here, with the same progress reporting.
 */
import type { Transformers } from './transformers.ts';
import type { ModelStore } from './model-cache.ts';
import { isResumable, resumableFetch, type FetchLike } from './resumable-fetch.ts';

export type ModelLocation = { kind: 'hub'; id: string } | { kind: 'url'; url: string } | { kind: 'folder'; path: string };

/** One progress event for a model load (download or read of one file). */
export interface LoadProgress {
  file: string;
  /** Bytes of this file so far, and its size when known. */
  loaded: number;
  total?: number;
  /** Totals over the files seen so far. */
  loadedBytes: number;
  totalBytes: number;
  filesDone: number;
  filesSeen: number;
  status: 'start' | 'progress' | 'done';
}

export const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

const HUB_ID = /^[\w.-]+\/[\w.-]{1,96}$/;

/** Imports a Node built-in without letting a browser bundler try to resolve it. */
export function nodeImport<T = any>(name: string): Promise<T> {
  return import(/* webpackIgnore: true */ /* @vite-ignore */ name) as Promise<T>;
}

export async function locateModel(model: string): Promise<ModelLocation> {
  if (typeof model !== 'string' || model.trim() === '') throw new TypeError('model must be a hub id, a URL or a folder path');
  if (/^(https?:|blob:)/i.test(model)) return { kind: 'url', url: model.replace(/\/+$/, '') };
  if (isNode) {
    const path = await nodeImport<typeof import('node:path')>('node:path');
    const fs = await nodeImport<typeof import('node:fs')>('node:fs');
    const abs = path.resolve(model);
    if (fs.existsSync(abs)) {
      if (!fs.statSync(abs).isDirectory()) throw new Error(`Model path ${abs} is not a folder`);
      return { kind: 'folder', path: abs };
    }
    if (HUB_ID.test(model)) return { kind: 'hub', id: model };
    throw new Error(`Model folder not found: ${abs} (and "${model}" is not a hub id like "Xenova/bge-m3")`);
  }
  if (model.startsWith('/') || model.startsWith('.')) {
    return { kind: 'url', url: new URL(model, globalThis.location?.href).href.replace(/\/+$/, '') };
  }
  if (HUB_ID.test(model)) return { kind: 'hub', id: model };
  throw new Error(`"${model}" is neither a URL nor a hub id like "Xenova/bge-m3"`);
}

type Env = Transformers['env'];

/** Where a hub id's files come from: Transformers.js's env (huggingface.co unless the app changed it). */
export interface HubSettings {
  remoteHost: string;
  remotePathTemplate: string;
}

/** The hub the current load reads from (set by configureTransformers), for the files we read ourselves. */
let hubForFiles: HubSettings = { remoteHost: 'https://huggingface.co/', remotePathTemplate: '{model}/resolve/{revision}/' };
/** The fetch the current load downloads with (useResumableFetch). */
let fetchForFiles: FetchLike | undefined;

/** The Transformers.js settings a load changes, to put back afterwards (the app's own hub settings survive). */
export function saveTransformersEnv(env: Env): () => void {
  const saved = {
    remoteHost: env.remoteHost,
    remotePathTemplate: env.remotePathTemplate,
    allowLocalModels: env.allowLocalModels,
    allowRemoteModels: env.allowRemoteModels,
    useCustomCache: env.useCustomCache,
    customCache: env.customCache,
    cacheDir: env.cacheDir,
    fetch: env.fetch,
  };
  return () => {
    Object.assign(env, saved);
    fetchForFiles = undefined;
  };
}

/** Model downloads resume after a dropped connection (Range + If-Range), for Transformers.js and us. */
export function useResumableFetch(env: Env): FetchLike {
  if (!isResumable(env.fetch)) env.fetch = resumableFetch((env.fetch ?? fetch) as FetchLike) as typeof env.fetch;
  return (fetchForFiles = env.fetch as FetchLike);
}

/**
 * Points Transformers.js at the model and returns the id to pass to from_pretrained. A URL is served through
 * Transformers.js's "remote" path with the URL's parent folder as the host (its local-path branch skips
 * metadata checks for absolute URLs), so the only requests made are to the URL the user named. Remote
 * loading from the hub happens only for a hub id.
 */
export function configureTransformers(env: Env, loc: ModelLocation, hub?: Partial<HubSettings>): string {
  switch (loc.kind) {
    case 'folder':
      env.allowLocalModels = true;
      env.allowRemoteModels = false;
      return loc.path;
    case 'url': {
      const cut = loc.url.lastIndexOf('/');
      const name = loc.url.slice(cut + 1);
      if (!HUB_ID.test(`m/${name}`) || name.includes('..') || name.includes('--')) {
        throw new Error(`The last path segment of a model URL must be a plain folder name ([A-Za-z0-9_.-]), got "${name}"`);
      }
      env.allowLocalModels = false;
      env.allowRemoteModels = true;
      env.remoteHost = loc.url.slice(0, cut + 1);
      env.remotePathTemplate = '{model}/';
      return name;
    }
    case 'hub':
      env.allowLocalModels = false;
      env.allowRemoteModels = true;
      if (hub?.remoteHost) env.remoteHost = hub.remoteHost.replace(/\/?$/, '/');
      if (hub?.remotePathTemplate) env.remotePathTemplate = hub.remotePathTemplate;
      hubForFiles = { remoteHost: env.remoteHost, remotePathTemplate: env.remotePathTemplate };
      return loc.id;
  }
}

export function describeLocation(loc: ModelLocation): string {
  return loc.kind === 'hub' ? loc.id : loc.kind === 'url' ? loc.url : loc.path;
}

export function fileUrl(loc: ModelLocation, file: string): string {
  switch (loc.kind) {
    case 'folder':
      return `${loc.path}/${file}`;
    case 'url':
      return `${loc.url}/${file}`;
    case 'hub': {
      // The same URL Transformers.js builds (buildResourcePaths), so both share one cache entry per file.
      const { remoteHost, remotePathTemplate } = hubForFiles;
      const path = remotePathTemplate.replaceAll('{model}', loc.id).replaceAll('{revision}', 'main');
      return `${remoteHost.replace(/\/+$/, '')}/${path.replace(/^\/+|\/+$/g, '')}/${file}`;
    }
  }
}

/**
 * Reads one file of a model, or returns null when it does not exist (404 / ENOENT). In a browser, `store`
 * (the model cache) answers first and keeps what was downloaded, so a later visit needs no network.
 */
export async function readModelFile(
  loc: ModelLocation,
  file: string,
  onProgress?: (loaded: number, total: number | undefined) => void,
  store?: ModelStore | null,
): Promise<Uint8Array | null> {
  const where = fileUrl(loc, file);
  if (loc.kind === 'folder') {
    const fs = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
    try {
      const buf = new Uint8Array(await fs.readFile(where));
      onProgress?.(buf.length, buf.length);
      return buf;
    } catch (e: any) {
      if (e?.code === 'ENOENT') return null;
      throw new Error(`Cannot read ${where}: ${e?.message ?? e}`);
    }
  }
  let res: Response | undefined = await store?.match(where);
  const cached = !!res;
  try {
    res ??= await (fetchForFiles ?? fetch)(where);
  } catch (e: any) {
    // undici says only "fetch failed"; the reason (refused, reset, DNS) is in its cause
    throw new Error(`Cannot fetch ${where}: ${e?.message ?? e}${e?.cause?.message ? ` (${e.cause.message})` : ''}`);
  }
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`Cannot fetch ${where}: HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length')) || undefined;
  if (!cached && store) {
    const bytes = await readBody(res, total, onProgress);
    const headers = new Headers(res.headers);
    headers.set('content-length', String(bytes.length));
    await store.put(where, new Response(bytes as Uint8Array<ArrayBuffer>, { headers }));
    return bytes;
  }
  return readBody(res, total, onProgress);
}

async function readBody(res: Response, total: number | undefined, onProgress?: (loaded: number, total: number | undefined) => void): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    onProgress?.(loaded, total);
  }
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
