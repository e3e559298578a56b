/** A server-sent event stream read with node:http, for e2e specs of the live routes. */
import http from 'node:http';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** A server-sent event stream read with node:http: its status, headers and events. */
export class EventStream {
  readonly events: SseEvent[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  private request?: http.ClientRequest;
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  body = '';
  ended = false;

  static open(url: string, headers: Record<string, string>): Promise<EventStream> {
    const s = new EventStream();
    return new Promise((resolve, reject) => {
      s.request = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
        s.status = res.statusCode ?? 0;
        s.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (s.status !== 200) s.body += chunk;
          else s.feed(chunk);
        });
        res.on('end', () => {
          s.ended = true;
          s.wake();
        });
        res.on('error', () => undefined);
        if (s.status === 200) resolve(s);
        else res.on('end', () => resolve(s));
      });
      s.request.on('error', reject);
    });
  }

  private feed(chunk: string) {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const event: SseEvent = { event: 'message', data: '' };
      let any = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || line.startsWith('retry:')) continue;
        const colon = line.indexOf(':');
        const field = line.slice(0, colon);
        const value = line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') event.id = value;
        else if (field === 'event') event.event = value;
        else if (field === 'data') event.data += value;
        any = true;
      }
      if (any) this.events.push(event);
    }
    this.wake();
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Waits for the n-th event (1-based), failing after timeoutMs. */
  async nth(n: number, timeoutMs = 10_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < n) {
      if (this.ended) throw new Error(`stream ended after ${this.events.length} event(s)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event #${n} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.events[n - 1]!;
  }

  /** Resolves when the server ends the stream. */
  async end(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('stream did not end');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close() {
    this.request?.destroy();
  }
}
