// Credentials never reach a log line, wherever a request's headers are logged, and no line carries another's fields.
import { createLogger } from './logger.ts';

function logged(obj: Record<string, unknown>): string {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', service: 'test', destination: { write: (l: string) => lines.push(l) } });
  log.info(obj, 'request');
  return lines.join('');
}

describe('log redaction', () => {
  it('hides a bearer token sent as a WebSocket subprotocol, at the top level and under req', () => {
    const header = { 'sec-websocket-protocol': 'messenger.v1, bearer.secret-token' };
    for (const line of [logged({ headers: header }), logged({ req: { headers: header } })]) {
      expect(line).not.toContain('secret-token');
      expect(JSON.parse(line)).toMatchObject({ msg: 'request' });
      expect(line).toContain('[redacted]');
    }
  });
});

describe('log lines', () => {
  it('carry only their own fields, never those of an earlier line', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', service: 'test', destination: { write: (l: string) => lines.push(l) } });
    log.info({ userId: 'u-1', email: 'ada@example.com' }, 'first');
    log.info({ chatId: 'c-2' }, 'second');
    log.info('third');
    const fields = lines.map((l) => {
      const { level, time, service, msg, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return { msg, ...rest };
    });
    expect(fields).toEqual([
      { msg: 'first', userId: 'u-1', email: 'ada@example.com' },
      { msg: 'second', chatId: 'c-2' },
      { msg: 'third' },
    ]);
  });
});
