// The whole system in one process, for `make run` and whole-system tests.
export { type EmbeddedConfig, embeddedSettings, loadEmbeddedConfig } from './config.ts';
export { ANY_FREE_PORTS } from './ports.ts';
export { type RunningSystem, type SystemOptions, startSystem } from './system.ts';
