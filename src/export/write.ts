/** Small Node helpers the exporters share: buffered JSON-lines output, deterministic point UUIDs. */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

/** Appends lines to a file through a 1 MiB buffer: millions of points without millions of writes. */
export class LineWriter {
  private parts: string[] = [];
  private size = 0;
  lines = 0;
  private constructor(private readonly fh: FileHandle) {}

  static async create(path: string): Promise<LineWriter> {
    return new LineWriter(await open(path, 'w'));
  }

  async write(obj: unknown): Promise<void> {
    const line = JSON.stringify(obj) + '\n';
    this.parts.push(line);
    this.size += line.length;
    this.lines++;
    if (this.size >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    if (!this.parts.length) return;
    await this.fh.write(this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh.sync();
    await this.fh.close();
  }
}

/**
 * Qdrant takes unsigned integers or UUIDs as point ids, not arbitrary strings. A UUID derived from the id
 * (SHA-256, version nibble 8 = "custom" per RFC 9562) is stable across exports, so re-exporting upserts
 * the same points instead of duplicating them.
 */
export function idToUuid(id: string): string {
  const h = createHash('sha256').update(id, 'utf8').digest();
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(JSON.stringify(value, null, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
}
