import http from 'node:http';

/** What a client got: a complete response, or an error (a broken response included). */
export type Outcome = { status: number; body: string } | { error: string };

/** One request over `agent`, resolving with whatever happened; never rejects. */
export function send(
  agent: http.Agent,
  url: string,
  {
    method = 'GET',
    path = '/',
    headers = {},
    body,
  }: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string } = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const { hostname, port } = new URL(url);
    const req = http.request({ host: hostname, port, method, path, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', (err) => resolve({ error: `${err.message} after ${JSON.stringify(text)}` }));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', (err) => resolve({ error: err.message }));
    req.end(body);
  });
}

/**
 * Steady client load, bounded: at most `max` requests, `concurrency` at a time. A test
 * waits for conditions with {@link when}; one still unmet when the load runs out fails.
 */
export class Load {
  started = 0;
  finished = 0;
  private stopped = false;
  private ended = false;
  private watchers: Array<{ test: () => boolean; resolve: () => void; reject: (err: Error) => void; what: string }> = [];

  constructor(
    private readonly max: number,
    private readonly concurrency: number,
  ) {}

  async run(one: (i: number) => Promise<void>): Promise<void> {
    const worker = async (): Promise<void> => {
      while (!this.stopped && this.started < this.max) {
        await one(this.started++);
        this.finished++;
        this.check();
      }
    };
    await Promise.all(Array.from({ length: this.concurrency }, worker));
    this.ended = true;
    for (const watcher of this.watchers.splice(0)) watcher.reject(new Error(`load ran out (${this.max} requests) before: ${watcher.what}`));
  }

  /** Resolves once `test` holds, checked after every finished request. */
  when(what: string, test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    if (this.ended) return Promise.reject(new Error(`load ran out before: ${what}`));
    return new Promise((resolve, reject) => this.watchers.push({ test, resolve, reject, what }));
  }

  stop(): void {
    this.stopped = true;
  }

  private check(): void {
    this.watchers = this.watchers.filter((watcher) => {
      if (!watcher.test()) return true;
      watcher.resolve();
      return false;
    });
  }
}
