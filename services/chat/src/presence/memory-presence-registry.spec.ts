import { MemoryPresenceRegistry } from './memory-presence-registry.ts';
import { presenceRegistryContract } from './presence-registry.contract.ts';

presenceRegistryContract('MemoryPresenceRegistry', () => new MemoryPresenceRegistry());
