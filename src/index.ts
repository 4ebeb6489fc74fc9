/** m3-search: BGE-M3 retrieval in the browser and in Node (Node-only pieces: `m3-search/node`). */
export { M3Encoder } from './encoder/m3-encoder.ts';
export type { LoadOptions, EncoderInfo } from './encoder/load-options.ts';
export type { M3Embedding, SparseWeights, EncodeOptions } from './encoder/types.ts';
export type { Device, DType } from './encoder/device.ts';
export type { LoadProgress } from './encoder/model-source.ts';
export { lexicalScore, colbertScore, denseScore } from './encoder/heads.ts';
export { M3Index, type IndexInfo } from './search/m3-index.ts';
export type { MergePolicy } from './search/merge-policy.ts';
export { MODES, DEFAULT_WEIGHTS } from './search/search-options.ts';
export type {
  IndexDoc,
  OpenOptions,
  IngestOptions,
  IngestProgress,
  SearchOptions,
  SearchQuery,
  SearchMode,
  FusionMode,
  SignalName,
  SignalWeights,
  SignalScore,
  Hit,
  TokenMatch,
  MetadataFilter,
  ChunkOptions,
  PassageAggregate,
  OnMismatch,
  EncoderLike,
} from './search/types.ts';
export { parseQuery, normalizeQuery, formatQuery, QuerySyntaxError, type NormalQuery } from './query/parse.ts';
export type { BoolQuery, Clause, NormalClause, Occur } from './query/types.ts';
export { asYouType } from './query/typing.ts';
export type { ClauseMatch } from './query/match.ts';
export { IdbStore, type IdbStoreOptions } from './store/idb-store.ts';
export { MemoryStore } from './store/memory-store.ts';
export { M3Error, M3InputError, type M3ErrorCode } from './errors.ts';
export { M3IndexMismatchError, M3QuotaError, M3ClosedError, M3StorageError, type StorageErrorCode } from './store/errors.ts';
export type { Store, StorageInfo, ModelIdentity } from './store/types.ts';
export { createM3Worker, M3WorkerClient, type ClientIngestOptions } from './worker/client.ts';
export { M3Service, type ServiceOptions } from './worker/service.ts';
export type { M3WorkerApi, WorkerLoadOptions, WorkerIndexOptions, WorkerSearchOptions, WorkerSearchResult, WorkerStatus } from './worker/api.ts';
export { exportStore, parsePortable, writePortable, PortableImportError, PORTABLE_FORMAT_VERSION, type PortableIndex } from './search/portable.ts';
export {
  installStaticPackage,
  installedStaticVersion,
  staticLoadReport,
  type StaticLoadOptions,
  type StaticLoadReport,
  type StaticProgress,
} from './static/loader.ts';
export { loadStaticIndex } from './static/load-index.ts';
export { StaticPackageError, validateManifest, STATIC_PACKAGE_VERSION, type StaticManifest } from './static/manifest.ts';
export * from './tune/index.ts';
export type { WorkerTuneOptions, WorkerHeadsInfo } from './worker/api.ts';
