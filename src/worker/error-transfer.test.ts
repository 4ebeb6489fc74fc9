import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { M3Error, M3InputError } from '../errors.ts';
import { parseQuery, QuerySyntaxError } from '../query/parse.ts';
import { M3QuotaError } from '../store/errors.ts';
import { useErrorTransfer } from './error-transfer.ts';

useErrorTransfer();

// A real Comlink round trip over a MessageChannel (structured cloning included), as between page and worker.
const channels: MessageChannel[] = [];
function remote<T>(obj: T): Comlink.Remote<T> {
  const ch = new MessageChannel();
  channels.push(ch);
  Comlink.expose(obj, ch.port1 as unknown as Comlink.Endpoint);
  return Comlink.wrap<T>(ch.port2 as unknown as Comlink.Endpoint);
}
afterEach(() => {
  for (const ch of channels.splice(0)) ch.port1.close(), ch.port2.close();
});

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('errors across the worker boundary', () => {
  it('a QuerySyntaxError keeps its class, code, position and message', async () => {
    const api = remote({ parse: (q: string) => parseQuery(q) });
    const e = await caught(api.parse('storage "offline'));
    expect(e).toBeInstanceOf(QuerySyntaxError);
    expect(e).toBeInstanceOf(M3Error);
    expect(e).toBeInstanceOf(Error);
    const q = e as QuerySyntaxError;
    expect(q.name).toBe('QuerySyntaxError');
    expect(q.code).toBe('QUERY_SYNTAX');
    expect(q.position).toBe(8);
    expect(q.message).toMatch(/unbalanced quote.*character 9/);
    expect(q.stack).toContain('QuerySyntaxError');
  });

  it('an M3QuotaError keeps its counts; a plain Error stays a plain Error', async () => {
    const api = remote({
      quota: () => {
        throw new M3QuotaError(12, 3456, new Error('not cloneable? it is: Errors clone'));
      },
      input: () => {
        throw new M3InputError('k must be a positive integer');
      },
      plain: () => {
        throw new TypeError('boom');
      },
    });
    const quota = (await caught(api.quota())) as M3QuotaError;
    expect(quota).toBeInstanceOf(M3QuotaError);
    expect([quota.code, quota.docsStored, quota.bytesStored]).toEqual(['QUOTA', 12, 3456]);
    const input = (await caught(api.input())) as M3InputError;
    expect(input).toBeInstanceOf(M3InputError);
    expect([input.code, input.message]).toEqual(['BAD_INPUT', 'k must be a positive integer']);
    const plain = (await caught(api.plain())) as Error;
    expect(plain).not.toBeInstanceOf(M3Error);
    expect([plain.name, plain.message]).toEqual(['TypeError', 'boom']);
  });

  it('a field that cannot be cloned stays behind instead of failing the reply', async () => {
    class WithFn extends M3Error {
      override name = 'WithFn';
      readonly fn = () => 1;
      readonly n = 7;
    }
    const api = remote({
      odd: () => {
        throw new WithFn('BAD_INPUT', 'odd');
      },
    });
    const e = (await caught(api.odd())) as M3Error & { n?: number; fn?: unknown };
    expect(e).toBeInstanceOf(M3Error); // an unknown subclass arrives as its base
    expect([e.name, e.code, e.n, e.fn]).toEqual(['WithFn', 'BAD_INPUT', 7, undefined]);
  });
});
