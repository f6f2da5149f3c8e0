// Connections of the http2 upstream: one channel per configured
// `host:port`, one HTTP/2 session per address the host resolves to, calls
// spread over the ready sessions round robin. A session is opened when a
// call first needs the channel and kept open (keepalive pings); a lost one
// is re-resolved and reopened, a failed connect retried with backoff.
import { lookup } from 'node:dns/promises';
import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import type { GrpcTls } from '@messenger/platform/grpc';
import { Http2Connection } from '@messenger/platform/http2';

export interface ChannelOptions {
  /** Interval of keepalive pings on an open session (grpc-js `keepalive_time_ms` of the gateway: 30 s). */
  readonly keepaliveMs: number;
  /** A ping unanswered this long closes the session (10 s). */
  readonly keepaliveTimeoutMs: number;
  /** A connection not established within this is abandoned (grpc-js: 20 s). */
  readonly connectTimeoutMs: number;
  /** Reconnect backoff after a failed connect: initial, ×1.6 per failure up to the max, ±20 % jitter. */
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  /** Every address of a host name (`dns.lookup(host, {all: true})`); asked again on each reconnect. */
  readonly lookup: (host: string) => Promise<readonly string[]>;
  /** TLS to the service (GRPC_TLS_*), as the grpc-js upstream has it; absent, plaintext (h2c). */
  readonly tls?: GrpcTls | undefined;
}

export async function lookupAll(host: string): Promise<readonly string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

/** A call waiting for a session: told once, either way. */
export interface PickWaiter {
  onSession(session: Http2Connection): void;
  onNoSession(message: string): void;
}

type State = 'idle' | 'connecting' | 'ready' | 'failed' | 'shutdown';

/** One resolved address and its session. */
class Subchannel {
  readonly ip: string;
  state: State = 'idle';
  session: Http2Connection | undefined;
  lastError = '';
  readonly #channel: Channel;
  #backoffMs: number;
  #readySince = 0;
  #lazy = false;
  #timer: NodeJS.Timeout | undefined;
  #keepalive: NodeJS.Timeout | undefined;

  constructor(channel: Channel, ip: string) {
    this.ip = ip;
    this.#channel = channel;
    this.#backoffMs = channel.options.reconnectInitialMs;
  }

  /**
   * Opens a session unless one is open or opening. A session that died
   * young is reopened only when a call asks (`demanded`): a peer that
   * accepts and hangs up costs one connection per call, never a busy loop.
   */
  connect(demanded: boolean): void {
    if (this.state !== 'idle' || (this.#lazy && !demanded)) return;
    this.#lazy = false;
    this.state = 'connecting';
    const options = this.#channel.options;
    const session = new Http2Connection(this.#socket(), { tls: options.tls !== undefined });
    // As grpc-js: an open connection alone does not keep the process alive (a call's deadline timer does).
    session.unref();
    this.session = session;
    this.#timer = setTimeout(() => session.destroy(new Error('connect timeout')), options.connectTimeoutMs).unref();
    // Ready once the peer has spoken HTTP/2 (its SETTINGS), not merely accepted TCP.
    session.once('remoteSettings', () => {
      if (this.session !== session) return;
      clearTimeout(this.#timer);
      this.state = 'ready';
      this.#readySince = Date.now();
      this.#keepalive = setInterval(() => this.#ping(session), options.keepaliveMs).unref();
      this.#channel.subchannelReady();
    });
    session.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    // GOAWAY: no new calls on this session, the in-flight ones finish (it
    // closes once they have, or at once for an error code).
    session.once('goaway', () => this.#lost(session));
    session.once('close', () => this.#lost(session));
  }

  /**
   * TCP, or TLS verified against the CA for the configured name (the host
   * of the address, or the override), whatever address it resolved to: as
   * grpc-js checks it.
   */
  #socket(): Socket {
    // Nagle off, as grpc-js sets it: a call's HEADERS and DATA must not wait for the ACK of the previous write.
    const tls = this.#channel.options.tls;
    if (!tls) return tcpConnect({ host: this.ip, port: this.#channel.port, noDelay: true });
    const name = tls.serverName ?? this.#channel.host;
    const socket = tlsConnect({
      host: this.ip,
      port: this.#channel.port,
      ca: tls.ca,
      cert: tls.identity?.cert,
      key: tls.identity?.key,
      ALPNProtocols: ['h2'],
      // SNI carries names only, never an IP address.
      servername: isIP(name) === 0 ? name : '',
      checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
    });
    socket.setNoDelay(true);
    return socket;
  }

  #ping(session: Http2Connection): void {
    if (session.closed) return;
    const timeout = setTimeout(
      () => session.destroy(new Error('keepalive ping not acknowledged')),
      this.#channel.options.keepaliveTimeoutMs,
    ).unref();
    try {
      if (!session.ping(() => clearTimeout(timeout))) clearTimeout(timeout);
    } catch {
      clearTimeout(timeout);
    }
  }

  /** The session stopped taking calls; a connect that never got ready counts as a failure. */
  #lost(session: Http2Connection): void {
    if (this.session !== session) return;
    this.session = undefined;
    clearTimeout(this.#timer);
    clearInterval(this.#keepalive);
    if (this.state === 'shutdown') return;
    if (this.state === 'ready') {
      this.state = 'idle';
      this.#backoffMs = this.#channel.options.reconnectInitialMs;
      this.#lazy = Date.now() - this.#readySince < this.#channel.options.reconnectInitialMs;
    } else {
      this.state = 'failed';
      const jitter = 1 + (Math.random() * 2 - 1) * 0.2;
      this.#timer = setTimeout(() => {
        this.state = 'idle';
        this.#channel.refresh(false);
      }, this.#backoffMs * jitter).unref();
      this.#backoffMs = Math.min(this.#backoffMs * 1.6, this.#channel.options.reconnectMaxMs);
    }
    this.#channel.subchannelLost();
  }

  /** Drops a session that refused a new stream, as a GOAWAY would. */
  discard(session: Http2Connection): void {
    this.#lost(session);
    session.close();
  }

  /** No new calls; in-flight ones finish on the session, which then closes. */
  shutdown(): void {
    const ready = this.state === 'ready';
    this.state = 'shutdown';
    clearTimeout(this.#timer);
    clearInterval(this.#keepalive);
    const session = this.session;
    this.session = undefined;
    if (ready) session?.close();
    else session?.destroy();
  }
}

/** One configured `host:port`: its addresses, sessions and the calls waiting for one. */
export class Channel {
  /** The configured `host:port`, sent as `:authority`. */
  readonly authority: string;
  readonly port: number;
  readonly options: ChannelOptions;
  /** The host of the configured address: a name or an IP. */
  readonly host: string;
  #subchannels: Subchannel[] = [];
  #next = 0;
  #waiters = new Set<PickWaiter>();
  #resolving = false;
  #demanded = false;
  #resolveError = '';
  #closed = false;

  constructor(address: string, options: ChannelOptions) {
    this.options = options;
    this.authority = address;
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
    if (!m) throw new Error(`upstream address ${JSON.stringify(address)} is not host:port`);
    this.host = m[1] ?? m[2] ?? '';
    this.port = Number(m[3]);
  }

  /** A ready session, round robin; undefined when none is (then `wait`). */
  pick(): Http2Connection | undefined {
    const subs = this.#subchannels;
    const n = subs.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#next + i) % n;
      const sub = subs[index] as Subchannel;
      const session = sub.session;
      // A session closing or destroyed in this very tick has not told its subchannel yet.
      if (sub.state === 'ready' && session !== undefined && !session.closed) {
        this.#next = index + 1;
        return session;
      }
    }
    return undefined;
  }

  /**
   * Parks a call until a session is ready. Fails it at once when nothing is
   * being connected (every address in backoff, the name unresolvable): a
   * call never waits on a connection nobody is making.
   */
  wait(waiter: PickWaiter): void {
    if (this.#closed) {
      waiter.onNoSession('upstream closed');
      return;
    }
    this.#waiters.add(waiter);
    this.refresh(true);
    this.#failWaitersIfHopeless();
  }

  unwait(waiter: PickWaiter): void {
    this.#waiters.delete(waiter);
  }

  /** Tells the channel a session refused a stream: it takes no more calls. */
  discard(session: Http2Connection): void {
    for (const sub of this.#subchannels) if (sub.session === session) sub.discard(session);
  }

  /** Re-resolves the name (when it is not an IP) and connects the idle addresses (see `connect`). */
  refresh(demanded: boolean): void {
    if (this.#closed) return;
    // Calls waiting make every idle address worth connecting, lazy or not.
    demanded ||= this.#waiters.size > 0;
    if (isIP(this.host) !== 0) {
      if (this.#subchannels.length === 0) this.#subchannels = [new Subchannel(this, this.host)];
      for (const sub of this.#subchannels) sub.connect(demanded);
      return;
    }
    this.#demanded ||= demanded;
    if (this.#resolving) return;
    this.#resolving = true;
    this.options.lookup(this.host).then(
      (ips) => this.#resolved(ips),
      (err: Error) => this.#resolved(undefined, err.message),
    );
  }

  #resolved(ips: readonly string[] | undefined, error = ''): void {
    this.#resolving = false;
    if (this.#closed) return;
    this.#resolveError = error;
    if (ips !== undefined && ips.length > 0) {
      const kept: Subchannel[] = [];
      for (const sub of this.#subchannels) {
        if (ips.includes(sub.ip)) kept.push(sub);
        else sub.shutdown();
      }
      for (const ip of ips) if (!kept.some((s) => s.ip === ip)) kept.push(new Subchannel(this, ip));
      this.#subchannels = kept;
    }
    // A failed lookup keeps the addresses it had: they may well still answer.
    const demanded = this.#demanded;
    this.#demanded = false;
    for (const sub of this.#subchannels) sub.connect(demanded);
    this.#failWaitersIfHopeless();
  }

  subchannelReady(): void {
    for (const waiter of this.#waiters) {
      const session = this.pick();
      if (session === undefined) return;
      this.#waiters.delete(waiter);
      waiter.onSession(session);
    }
  }

  subchannelLost(): void {
    this.refresh(false);
    this.#failWaitersIfHopeless();
  }

  #failWaitersIfHopeless(): void {
    if (this.#waiters.size === 0 || this.#resolving) return;
    let reason = this.#resolveError ? `name resolution failed: ${this.#resolveError}` : 'no address to connect to';
    for (const sub of this.#subchannels) {
      if (sub.state === 'connecting' || sub.state === 'ready' || sub.state === 'idle') return;
      if (sub.lastError) reason = sub.lastError;
    }
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.onNoSession(`upstream unavailable: ${reason}`);
  }

  close(): void {
    this.#closed = true;
    for (const sub of this.#subchannels) sub.shutdown();
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.onNoSession('upstream closed');
  }
}
