/** The catalog: models/*.yaml as typed, validated records in SI units, and the lookups other layers use. */
export * from '../spec/catalog.js';
export { defaultConnector, fallbackTransport, firstNodeOffering, nodeHasGpu, nodeOffers, sideChannelTransport } from './load.js';
export { CATALOG_KINDS, defaultCatalog, defaultModelsDir, getAllToAll, getConnector, getGpu, getLlm, getNode, getTransport, loadCatalog, projectRoot, recordOrigin, scaleDecimal, useUserCatalog, userCatalogDirs } from './load.js';
export type { CatalogKind, RecordOrigin } from './load.js';
export { CONNECTOR_PLACEHOLDERS, placeholdersIn } from './schema.js';
export type { ConnectorPlaceholder } from './schema.js';
export { closest, levenshtein, unknownNameMessage } from './suggest.js';
