/** The worker entry: an M3Service behind Comlink, with typed arrays transferred rather than copied. */
import * as Comlink from 'comlink';
import { useErrorTransfer } from './error-transfer.ts';
import type { M3Embedding } from '../encoder/types.ts';
import { M3Service } from './service.ts';

class TransferringService extends M3Service {
  override async encode(...args: Parameters<M3Service['encode']>): Promise<M3Embedding[]> {
    const out = await super.encode(...args);
    const buffers = new Set<ArrayBuffer>();
    for (const e of out) for (const a of [e.dense, e.sparse?.ids, e.sparse?.weights, e.colbert]) if (a) buffers.add(a.buffer as ArrayBuffer);
    return Comlink.transfer(out, [...buffers]);
  }

  override async exportIndex(): Promise<Uint8Array> {
    const bytes = await super.exportIndex();
    return Comlink.transfer(bytes, [bytes.buffer as ArrayBuffer]);
  }
}

useErrorTransfer();
Comlink.expose(new TransferringService());
