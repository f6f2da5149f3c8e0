// Test-only process: serves EchoService on a free loopback port, prints the
// port, and shuts down on SIGTERM the way every service's main.ts does.
import { pino } from 'pino';
import { exitOnShutdownSignal } from '../src/lifecycle.ts';
import { loadEcho, startEchoServer } from './echo-fixture.ts';

const fx = await loadEcho();
const { server } = startEchoServer(fx, { transport: process.env.ECHO_TRANSPORT === 'grpc-js' ? 'grpc-js' : 'http2' });
const port = await server.listen('127.0.0.1', 0);
exitOnShutdownSignal(pino({ level: 'silent' }), () => server.shutdown(5000));
process.stdout.write(`listening ${port}\n`);
