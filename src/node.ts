/** Node-only entry (`m3-search/node`): everything in the main entry plus the folder store, kept apart so
 * browser bundles never pull node:fs. */
export * from './index.ts';
export { FileStore, type FileStoreOptions } from './store/file-store.ts';
export { writeStaticPackage, type BuildStaticOptions } from './static/build.ts';
export { exportIndex, readExport, ENGINES, type Engine, type ExportManifest } from './export/index.ts';
