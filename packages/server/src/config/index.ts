export { loadConfig, tryLoadConfig, readConfigFile, envVariables, ConfigError } from './load.ts';
export type { LoadOptions } from './load.ts';
export { validateConfig } from './validate.ts';
export type { ValidateContext, ValidateResult } from './validate.ts';
export { addressHost, addressPort, defaultNodes, resolveNodeRef } from './nodes.ts';
export type * from './types.ts';
export { forwardTimeoutMs, leaderWriteMs, proxyReadTimeoutS } from './budgets.ts';
