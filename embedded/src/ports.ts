// Kept apart from the rest of the package (no imports), so that a process
// that only starts the system elsewhere, a bench say, need not load it.

/**
 * Every port the system listens on, left to the OS to choose: how tests and
 * benches run systems side by side (each prints the gateway's URL it got).
 */
export const ANY_FREE_PORTS = {
  GATEWAY_HTTP_PORT: '0',
  AUTH_GRPC_PORT: '0',
  USER_GRPC_PORT: '0',
  SUBSCRIBER_GRPC_PORT: '0',
  CHAT_GRPC_PORT: '0',
  NOTIFICATION_GRPC_PORT: '0',
} as const;
