// `make run`: the whole system in one process (see system.ts), its URLs and a
// ready line on stdout, stopped cleanly by Ctrl-C or SIGTERM.
import { exitOnShutdownSignal } from '@messenger/platform/lifecycle';
import { createLogger } from '@messenger/platform/logger';
import { loadEmbeddedConfig } from './config.ts';
import { startSystem } from './system.ts';

const config = loadEmbeddedConfig(process.env);
const logger = createLogger({ level: config.auth.logLevel, service: 'embedded' });
const system = await startSystem(config, { logger });

const lines = [
  `gateway      ${system.gatewayUrl}`,
  `swagger ui   ${system.gatewayUrl}/docs`,
  `openapi      ${system.gatewayUrl}/openapi.json`,
  ...system.services.map((s) => `${s.name.padEnd(12)} grpc://${s.host}:${s.port}`),
  'messenger ready (embedded mode)',
];
process.stdout.write(`${lines.join('\n')}\n`);

exitOnShutdownSignal(logger, () => system.stop());
