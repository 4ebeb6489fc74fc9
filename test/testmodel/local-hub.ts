/**
 * A stand-in for the Hugging Face hub on 127.0.0.1, for tests and rehearsals: model repos at the hub's URL
 * layout (`/{owner}/{name}/resolve/{revision}/{file}`), other folders at plain paths (the heads, as BAAI and a
 * self-hoster ship them apart from the ONNX export), with what a download path must cope with: Range and
 * If-Range, ETag / If-None-Match, CORS and CORP for a cross-origin-isolated page, a slow mode (bytes per
 * second) and a cut mode (the connection drops after N bytes of a response). Every request is logged so a
 * test can prove that a cut download resumed instead of starting over.
 */
import { createReadStream, statSync, type Stats } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';

export interface HubBehaviour {
  /** Bytes per second per response (0: as fast as possible). */
  bytesPerSecond: number;
  /** Drop the connection after this many body bytes of a response (0: never)… */
  cutAfterBytes: number;
  /** …for this many responses in all, then serve normally (so a retry can succeed). */
  cuts: number;
  /** Only responses whose path matches this (a substring) are slowed or cut ('' = all). */
  match: string;
  /** Answer every request with this status instead (0: off); 507 stands for a full server, 503 for an outage. */
  failStatus: number;
}

export interface HubRequest {
  method: string;
  path: string;
  range?: string;
  ifRange?: string;
  status: number;
  /** Body bytes actually written before the response ended or was cut. */
  sent: number;
  cut: boolean;
}

export interface LocalHubOptions {
  /** hub id → folder, served at /{id}/resolve/main/… */
  repos?: Record<string, string>;
  /** URL path prefix (e.g. '/heads/bge-m3/') → folder. */
  mounts?: Record<string, string>;
  port?: number;
  behaviour?: Partial<HubBehaviour>;
}

export interface LocalHub {
  /** http://127.0.0.1:PORT/ (with the slash: what Transformers.js's env.remoteHost takes). */
  url: string;
  port: number;
  behaviour: HubBehaviour;
  log: HubRequest[];
  /** Bytes of response bodies sent for paths containing `part`. */
  sentFor(part: string): number;
  close(): Promise<void>;
}

const DEFAULTS: HubBehaviour = { bytesPerSecond: 0, cutAfterBytes: 0, cuts: 0, match: '', failStatus: 0 };

const TYPES: Record<string, string> = { json: 'application/json', txt: 'text/plain; charset=utf-8' };

export const etagOf = (st: Stats) => `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;

/** Parses a single `bytes=a-b` / `bytes=a-` / `bytes=-n` range; null when absent, 'bad' when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'bad' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'bad';
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'bad';
  return { start, end };
}

export async function startLocalHub(options: LocalHubOptions): Promise<LocalHub> {
  const behaviour: HubBehaviour = { ...DEFAULTS, ...options.behaviour };
  const log: HubRequest[] = [];
  const routes: [prefix: string, dir: string][] = [
    ...Object.entries(options.repos ?? {}).map(([id, dir]) => [`/${id}/resolve/main/`, dir] as [string, string]),
    ...Object.entries(options.mounts ?? {}).map(([p, dir]) => [p.endsWith('/') ? p : `${p}/`, dir] as [string, string]),
  ];

  const resolveFile = (path: string): string | null => {
    for (const [prefix, dir] of routes) {
      if (!path.startsWith(prefix)) continue;
      const rel = normalize(decodeURIComponent(path.slice(prefix.length)));
      if (rel.startsWith('..') || rel.includes(`${sep}..`) || rel.startsWith(sep)) return null;
      return join(dir, rel);
    }
    return null;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const entry: HubRequest = {
      method: req.method ?? 'GET',
      path,
      range: req.headers.range,
      ifRange: req.headers['if-range'] as string | undefined,
      status: 0,
      sent: 0,
      cut: false,
    };
    log.push(entry);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Range, If-Range, If-None-Match, Content-Type');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Length, Content-Range, ETag, Accept-Ranges, X-Linked-Size');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    const end = (status: number, body = '') => {
      entry.status = status;
      res.statusCode = status;
      res.end(body);
    };
    if (req.method === 'OPTIONS') return end(204);
    if (req.method !== 'GET' && req.method !== 'HEAD') return end(405);
    if (behaviour.failStatus) return end(behaviour.failStatus, 'failing on purpose');
    const file = resolveFile(path);
    let st: Stats;
    try {
      if (!file) throw new Error('no route');
      st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
    } catch {
      res.setHeader('X-Error-Code', 'EntryNotFound');
      return end(404, 'Entry not found');
    }
    const etag = etagOf(st);
    res.setHeader('ETag', etag);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', TYPES[file.split('.').pop() ?? ''] ?? 'application/octet-stream');
    res.setHeader('Cache-Control', 'public, max-age=3600');
    if (req.headers['if-none-match'] === etag) return end(304);
    // If-Range with another ETag means "the file changed: send all of it", as RFC 9110 says.
    const ifRange = req.headers['if-range'];
    const range = ifRange && ifRange !== etag ? null : parseRange(req.headers.range, st.size);
    if (range === 'bad') {
      res.setHeader('Content-Range', `bytes */${st.size}`);
      return end(416);
    }
    const start = range?.start ?? 0;
    const last = range?.end ?? st.size - 1;
    res.setHeader('Content-Length', String(last - start + 1));
    if (range) res.setHeader('Content-Range', `bytes ${start}-${last}/${st.size}`);
    entry.status = range ? 206 : 200;
    res.statusCode = entry.status;
    if (req.method === 'HEAD' || st.size === 0) return res.end();

    const shaped = behaviour.match === '' || path.includes(behaviour.match);
    const cutAt =
      shaped && behaviour.cuts > 0 && behaviour.cutAfterBytes > 0 && last - start + 1 > behaviour.cutAfterBytes ? behaviour.cutAfterBytes : Infinity;
    if (cutAt !== Infinity) behaviour.cuts--;
    const rate = shaped ? behaviour.bytesPerSecond : 0;
    const stream = createReadStream(file, { start, end: last, highWaterMark: 64 * 1024 });
    const t0 = Date.now();
    res.on('close', () => stream.destroy()); // the client went away (or the cut below)
    stream.on('error', () => res.destroy());
    stream.on('data', (chunk) => {
      const buf = chunk as Buffer;
      const room = cutAt - entry.sent;
      if (buf.length >= room) {
        if (room > 0) res.write(buf.subarray(0, room));
        entry.sent += Math.max(0, room);
        entry.cut = true;
        stream.destroy();
        // Let the partial bytes leave, then drop the connection mid-body, as a flaky network does.
        res.once('drain', () => res.destroy());
        setTimeout(() => res.destroy(), 50);
        return;
      }
      entry.sent += buf.length;
      const ok = res.write(buf);
      const wait = rate > 0 ? Math.max(0, (entry.sent / rate) * 1000 - (Date.now() - t0)) : 0;
      if (!ok || wait > 0) {
        stream.pause();
        const resume = () => (wait > 0 ? setTimeout(() => stream.resume(), wait) : stream.resume());
        if (ok) resume();
        else res.once('drain', resume);
      }
    });
    stream.on('end', () => res.end());
  };

  const server: Server = createServer(handle);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    behaviour,
    log,
    sentFor: (part) => log.filter((r) => r.path.includes(part)).reduce((s, r) => s + r.sent, 0),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
