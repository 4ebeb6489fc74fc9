/**
 * fetch() for model files that survives a dropped connection: when the body stream fails midway, the rest is
 * asked for with `Range: bytes=N-` and `If-Range: <ETag>` and spliced on, so a 570 MB download cut at 400 MB
 * goes on from 400 MB instead of starting over. The caller (Transformers.js, our head reader) sees one
 * uninterrupted 200 response, so its byte progress and its cache keep working unchanged.
 *
 * Only a response that names a validator (ETag or Last-Modified) and accepts byte ranges is resumed: without
 * one, the bytes after the cut could come from a different version of the file.
 */

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface ResumeOptions {
  /** Attempts after a cut that brought no new bytes (default 5); any progress resets the count. */
  retries?: number;
  /** First wait before a retry, doubled each time (default 500 ms). */
  backoffMs?: number;
  /** Told about every resume (tests and logs). */
  onResume?: (url: string, from: number, attempt: number) => void;
}

const RESUMABLE = Symbol.for('m3-search.resumable-fetch');

export function isResumable(f: unknown): boolean {
  return typeof f === 'function' && (f as any)[RESUMABLE] === true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function resumableFetch(base: FetchLike, options: ResumeOptions = {}): FetchLike {
  const retries = options.retries ?? 5;
  const backoff = options.backoffMs ?? 500;
  const wrapped: FetchLike = async (input, init) => {
    const res = await base(input, init);
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const validator = res.headers.get('etag') ?? res.headers.get('last-modified');
    const total = Number(res.headers.get('content-length'));
    if (method !== 'GET' || res.status !== 200 || !res.body || !validator || res.headers.get('accept-ranges') !== 'bytes' || !(total > 0)) return res;
    const url = res.url || String(input instanceof Request ? input.url : input);
    const signal = init?.signal ?? undefined;

    let received = 0;
    let reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
    let failures = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          try {
            const { done, value } = await reader.read();
            if (done) {
              if (received < total) throw new Error(`connection closed after ${received} of ${total} bytes`);
              controller.close();
              return;
            }
            received += value.length;
            failures = 0;
            controller.enqueue(value);
            return;
          } catch (e) {
            if (signal?.aborted) throw e;
            if (++failures > retries)
              throw new Error(`Download of ${url} failed after ${received} of ${total} bytes and ${retries} resumes: ${(e as Error)?.message ?? e}`);
            await sleep(backoff * 2 ** (failures - 1));
            options.onResume?.(url, received, failures);
            reader = await resume(base, url, init, validator, received, total).then(
              (r) => r.body!.getReader(),
              // a failed resume request counts as one more failure: the loop reads from a reader that throws
              (err) => ({ read: () => Promise.reject(err), cancel: async () => undefined }) as unknown as ReadableStreamDefaultReader<Uint8Array>,
            );
          }
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    const out = new Response(body, { status: 200, statusText: res.statusText, headers: res.headers });
    Object.defineProperty(out, 'url', { value: url });
    return out;
  };
  (wrapped as any)[RESUMABLE] = true;
  return wrapped;
}

/** The rest of the file from `from`, or an error when the server can't give exactly that. */
async function resume(base: FetchLike, url: string, init: RequestInit | undefined, validator: string, from: number, total: number): Promise<Response> {
  const headers = new Headers(init?.headers);
  headers.set('Range', `bytes=${from}-`);
  headers.set('If-Range', validator);
  const r = await base(url, { ...init, headers });
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(r.headers.get('content-range') ?? '');
  if (r.status !== 206 || !m || Number(m[1]) !== from || (m[3] !== '*' && Number(m[3]) !== total) || !r.body) {
    await r.body?.cancel().catch(() => undefined);
    throw new Error(
      r.status === 200
        ? `${url} changed on the server during the download; start it again`
        : `${url}: the server did not resume at byte ${from} (HTTP ${r.status})`,
    );
  }
  return r;
}
