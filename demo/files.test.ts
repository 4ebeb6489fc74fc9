/** The demo's file reading: a 5 MB .jsonl of short lines and a UTF-8 BOM are documents, not a RangeError. */
import { describe, expect, it } from 'vitest';
import { MAX_FILE_BYTES, readDocs } from './files.ts';

describe('demo file reading', () => {
  it('reads a .jsonl of 5 MB of short lines (400k documents) without overflowing the stack', async () => {
    const line = '{"text":"ab"}\n';
    const n = Math.floor((MAX_FILE_BYTES - 1000) / line.length);
    expect(n).toBeGreaterThan(300_000);
    const docs = await readDocs([new File([line.repeat(n)], 'many.jsonl')]);
    expect(docs.length).toBe(n);
    expect(docs.at(-1)!.id).toBe(`many.jsonl:${n}`);
  });

  it('accepts a UTF-8 byte order mark at the start of a file', async () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
    const [doc] = await readDocs([new File([bom, '{"id":"a","text":"hello"}\n'], 'bom.jsonl')]);
    expect(doc).toMatchObject({ id: 'a', text: 'hello' });
    const [txt] = await readDocs([new File([bom, 'plain text'], 'bom.txt')]);
    expect(txt.text).toBe('plain text');
  });
});
