/** Whether `hostname` (as `URL.hostname` gives it) names this machine: where plain http or SMTP stays on the host. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}
