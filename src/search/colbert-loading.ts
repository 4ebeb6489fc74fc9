/**
 * ColBERT scoring (colbert.ts and its kernels), imported by the first search that scores ColBERT vectors: a
 * page whose index holds none never ships it (the search path's size budget, scripts/check-size.mjs). The
 * ranker is synchronous, so searchIndex awaits loadColbert() before it ranks and the ranker takes the module
 * from colbertScoring().
 */
type ColbertModule = typeof import('./colbert.ts');

let loading: Promise<ColbertModule> | undefined;
let loaded: ColbertModule | undefined;

export async function loadColbert(): Promise<ColbertModule> {
  loaded ??= await (loading ??= import('./colbert.ts'));
  return loaded;
}

export function colbertScoring(): ColbertModule {
  if (!loaded) throw new Error('ColBERT scoring was asked for before loadColbert() resolved');
  return loaded;
}
