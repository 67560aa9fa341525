// Batches to the runner: events and rrweb events collect in a batch that is sent every 5 s or at 256 KB, gzipped
// with CompressionStream where the browser has it, by `fetch` with `keepalive` (as `text/plain`, so no CORS
// preflight is needed), and by `navigator.sendBeacon` when the page is hidden or left. A batch that fails waits
// with exponential backoff, or as long as a 429/503 `Retry-After` says, in a bounded queue (oldest dropped first,
// counted); 4xx answers other than 408/429 are final (the batch is invalid and retrying cannot help).

export const FLUSH_INTERVAL_MS = 5000;
export const MAX_BATCH_BYTES = 256 * 1024;
/** Batches waiting for a retry, at most. */
export const MAX_QUEUED = 30;
/** Largest body `sendBeacon` is trusted with (browsers cap beacons at 64 KiB in flight). */
export const BEACON_MAX_BYTES = 60 * 1024;

export interface Sender {
  /** Sends a body; resolves with the HTTP status and `Retry-After` seconds (0 = network failure). */
  post(url: string, body: Uint8Array | string, keepalive: boolean): Promise<{ status: number; retryAfter?: number }>;
  /** Queues a body for delivery after the page is gone; false when the browser refused it. */
  beacon(url: string, body: Uint8Array | string): boolean;
}

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface Queued {
  body: Uint8Array | string;
  attempts: number;
  notBefore: number;
}

export interface TransportStats {
  sent: number;
  retried: number;
  dropped: number;
  rejected: number;
}

/** The browser's fetch and sendBeacon. */
export function browserSender(): Sender {
  return {
    async post(url, body, keepalive) {
      try {
        const response = await fetch(url, {
          method: 'POST',
          body: body as BodyInit,
          keepalive: keepalive && byteLength(body) <= BEACON_MAX_BYTES,
          headers: { 'content-type': 'text/plain' },
          credentials: 'omit',
        });
        const retry = Number(response.headers.get('retry-after'));
        return { status: response.status, retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined };
      } catch {
        return { status: 0 };
      }
    },
    beacon(url, body) {
      const nav = globalThis.navigator as Navigator | undefined;
      if (!nav || typeof nav.sendBeacon !== 'function') return false;
      try {
        return nav.sendBeacon(url, new Blob([body as BlobPart], { type: 'text/plain' }));
      } catch {
        return false;
      }
    },
  };
}

export function byteLength(body: Uint8Array | string): number {
  return typeof body === 'string' ? new TextEncoder().encode(body).length : body.length;
}

/** Gzips `text` with CompressionStream; the text itself where the browser has none. */
export async function gzip(text: string): Promise<Uint8Array | string> {
  const CS = (globalThis as { CompressionStream?: typeof CompressionStream }).CompressionStream;
  if (!CS) return text;
  try {
    const stream = new Blob([text]).stream().pipeThrough(new CS('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return text;
  }
}

export class Transport {
  private queue: Queued[] = [];
  private timer: unknown = null;
  private sending = false;
  readonly stats: TransportStats = { sent: 0, retried: 0, dropped: 0, rejected: 0 };

  constructor(
    private readonly url: string,
    private readonly sender: Sender,
    private readonly timers: Timers,
    private readonly compress: (text: string) => Promise<Uint8Array | string> = gzip,
  ) {}

  /** Compresses and sends a batch (its JSON) now, queued behind earlier ones that wait for a retry. */
  async send(json: string): Promise<void> {
    const body = await this.compress(json);
    this.enqueue({ body, attempts: 0, notBefore: 0 });
    await this.drain();
  }

  /** Hands everything waiting to the browser's beacon queue (the page is being hidden or left). */
  sendNow(json: string | null): void {
    // Uncompressed: there is no time left for an asynchronous compression.
    if (json) this.enqueue({ body: json, attempts: 0, notBefore: 0 });
    const left: Queued[] = [];
    for (const item of this.queue) {
      if (byteLength(item.body) > BEACON_MAX_BYTES || !this.sender.beacon(this.url, item.body)) {
        left.push(item);
      } else {
        this.stats.sent++;
      }
    }
    this.queue = left;
    // What the beacon refused is tried once more with a keepalive fetch.
    for (const item of left) void this.sender.post(this.url, item.body, true);
  }

  get pending(): number {
    return this.queue.length;
  }

  private enqueue(item: Queued): void {
    this.queue.push(item);
    while (this.queue.length > MAX_QUEUED) {
      this.queue.shift();
      this.stats.dropped++;
    }
  }

  private schedule(): void {
    if (this.timer !== null || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0].notBefore - this.timers.now());
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      void this.drain();
    }, wait);
  }

  /** Sends queued batches in order until one fails. */
  async drain(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const item = this.queue[0];
        if (item.notBefore > this.timers.now()) break;
        const { status, retryAfter } = await this.sender.post(this.url, item.body, false);
        if (status >= 200 && status < 300) {
          this.queue.shift();
          this.stats.sent++;
          continue;
        }
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
          this.queue.shift();
          this.stats.rejected++;
          continue;
        }
        item.attempts++;
        this.stats.retried++;
        const backoff = Math.min(60_000, 1000 * 2 ** Math.min(item.attempts - 1, 6));
        const jitter = backoff * 0.2 * Math.random();
        item.notBefore = this.timers.now() + (retryAfter !== undefined ? retryAfter * 1000 : backoff + jitter);
        break;
      }
    } finally {
      this.sending = false;
      if (this.timer !== null) {
        this.timers.clearTimeout(this.timer);
        this.timer = null;
      }
      this.schedule();
    }
  }
}
