/** One progress stream for a model load, from Transformers.js's per-file events and our own file reads. */
import type { LoadProgress } from './model-source.ts';

/** Merges Transformers.js's per-file events and our own head/config reads into one progress stream. */
export function progressTracker(onProgress?: (p: LoadProgress) => void) {
  const files = new Map<string, { loaded: number; total?: number; done: boolean }>();
  const emit = (file: string, status: LoadProgress['status']) => {
    if (!onProgress) return;
    let loadedBytes = 0;
    let totalBytes = 0;
    let filesDone = 0;
    for (const f of files.values()) {
      loadedBytes += f.loaded;
      totalBytes += f.total ?? f.loaded;
      if (f.done) filesDone++;
    }
    const f = files.get(file)!;
    onProgress({ file, loaded: f.loaded, total: f.total, loadedBytes, totalBytes, filesDone, filesSeen: files.size, status });
  };
  const update = (file: string, loaded: number, total: number | undefined, status: LoadProgress['status']) => {
    const f = files.get(file) ?? { loaded: 0, done: false };
    f.loaded = loaded;
    if (total !== undefined) f.total = total;
    if (status === 'done') f.done = true;
    files.set(file, f);
    emit(file, status);
  };
  return {
    file: (name: string) => (loaded: number, total: number | undefined) => update(name, loaded, total, 'progress'),
    done: (name: string) => {
      const f = files.get(name);
      update(name, f?.loaded ?? 0, f?.total, 'done');
    },
    transformers: (e: any) => {
      if (!e?.file) return;
      if (e.status === 'initiate') update(e.file, 0, undefined, 'start');
      else if (e.status === 'progress') update(e.file, e.loaded ?? 0, e.total, 'progress');
      else if (e.status === 'done') update(e.file, files.get(e.file)?.total ?? files.get(e.file)?.loaded ?? 0, undefined, 'done');
    },
  };
}

export type LoadTracker = ReturnType<typeof progressTracker>;
