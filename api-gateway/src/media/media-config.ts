import { join } from 'node:path';
import { openMediaStore } from '@messenger/platform/blob';
import type { GatewayConfig } from '../config.ts';
import type { MediaOptions } from './media-plugin.ts';

/**
 * The media options of the gateway's settings; `dir` replaces
 * GATEWAY_MEDIA_DIR (embedded mode keeps media under its data directory).
 * Touches no disk and no network: a bad store shows on the first upload, not
 * at start-up.
 */
export function mediaOptionsOf(config: GatewayConfig, dir: string = config.mediaDir): MediaOptions {
  return {
    store: openMediaStore(config, dir),
    // A name no blob key can have (keys start with [a-z0-9]).
    stagingDir: join(dir, '.staging'),
    avatars: { maxBytes: config.avatarMaxBytes, maxPixels: config.avatarMaxPixels },
    attachments: { maxBytes: config.attachmentMaxBytes, maxPixels: config.attachmentMaxPixels },
  };
}
