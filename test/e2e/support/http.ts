// A small HTTP client for the gateway, as an app would use it.

export interface Account {
  readonly userId: string;
  readonly email: string;
  readonly nickname: string;
  readonly password: string;
  readonly accessToken: string;
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

export class Gateway {
  readonly url: string;
  /** The system's metrics endpoint (METRICS_PORT), when it serves one. */
  readonly metricsUrl: string | undefined;
  #accounts = 0;

  constructor(url: string, metricsUrl?: string) {
    this.url = url;
    this.metricsUrl = metricsUrl;
  }

  async request(method: string, path: string, token?: string, body?: unknown): Promise<HttpResult> {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  }

  /** Like `request`, but fails unless the answer is 200. */
  async ok(method: string, path: string, token?: string, body?: unknown): Promise<Record<string, unknown>> {
    const res = await this.request(method, path, token, body);
    if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Registers a new account (unique email and nickname) and signs it in. */
  async register(name: string): Promise<Account> {
    const tag = `${name}${++this.#accounts}${Math.random().toString(36).slice(2, 8)}`.toLowerCase();
    const email = `${tag}@example.com`;
    const password = 'correct horse battery staple';
    const body = await this.ok('POST', '/v1/auth/register', undefined, { email, password, nickname: tag });
    const { tokens, user } = body as { tokens: { accessToken: string }; user: { userId: string } };
    return { userId: user.userId, email, nickname: tag, password, accessToken: tokens.accessToken };
  }

  /** A new session of an existing account: its access token. */
  async login(account: Account): Promise<string> {
    const body = await this.ok('POST', '/v1/auth/login', undefined, {
      email: account.email,
      password: account.password,
    });
    return (body as { tokens: { accessToken: string } }).tokens.accessToken;
  }

  /** The value of one Prometheus sample on the metrics endpoint, 0 when absent. */
  async metric(name: string, labels: string): Promise<number> {
    if (this.metricsUrl === undefined) throw new Error('this system serves no metrics (METRICS_PORT unset)');
    const text = await (await fetch(this.metricsUrl)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  }
}
