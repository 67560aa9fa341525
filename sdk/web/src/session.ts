// Session and visitor identity. A session is one tab's visit: its id lives in sessionStorage (so a new tab starts
// a new session) with the time of the last activity, and a new one starts after 30 minutes without activity. The
// visitor id is first-party (localStorage) and is not kept at all for a visitor who opted out.

export const SESSION_IDLE_MS = 30 * 60 * 1000;

const SESSION_KEY = 'tf_session';
const VISITOR_KEY = 'tf_visitor';
const OPT_OUT_KEY = 'tf_opt_out';

/** A key-value store like `Storage`; a page without storage (or a blocked one) gets a memory stand-in. */
export interface KeyValue {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function memoryStore(): KeyValue {
  const map = new Map<string, string>();
  return {
    getItem: (k) => (map.has(k) ? (map.get(k) as string) : null),
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  };
}

/** `window[name]`, or a memory store when storage is missing or throws (Safari private mode, sandboxed frames). */
export function storage(name: 'sessionStorage' | 'localStorage'): KeyValue {
  try {
    const s = (globalThis as unknown as Record<string, KeyValue | undefined>)[name];
    if (s) {
      const probe = '__tf_probe';
      s.setItem(probe, '1');
      s.removeItem(probe);
      return s;
    }
  } catch {
    // fall through
  }
  return memoryStore();
}

/** A random id of `[a-z0-9]`, from the platform's cryptographic generator when there is one. */
export function randomId(length = 20): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = new Uint8Array(length);
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && c.getRandomValues) {
    c.getRandomValues(bytes);
  } else {
    for (let i = 0; i < length; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

interface StoredSession {
  id: string;
  last: number;
  seq: number;
}

export class Identity {
  private session: StoredSession | null = null;

  constructor(
    private readonly sessions: KeyValue,
    private readonly visitors: KeyValue,
    private readonly now: () => number = Date.now,
  ) {}

  optedOut(): boolean {
    return this.visitors.getItem(OPT_OUT_KEY) === '1';
  }

  optOut(): void {
    this.visitors.setItem(OPT_OUT_KEY, '1');
    this.visitors.removeItem(VISITOR_KEY);
    this.sessions.removeItem(SESSION_KEY);
    this.session = null;
  }

  optIn(): void {
    this.visitors.removeItem(OPT_OUT_KEY);
  }

  /** The visitor id, created on first use; `undefined` for a visitor who opted out. */
  visitorId(): string | undefined {
    if (this.optedOut()) return undefined;
    let id = this.visitors.getItem(VISITOR_KEY);
    if (!id) {
      id = 'v_' + randomId();
      this.visitors.setItem(VISITOR_KEY, id);
    }
    return id;
  }

  private load(): StoredSession | null {
    if (this.session) return this.session;
    const raw = this.sessions.getItem(SESSION_KEY);
    if (!raw) return null;
    try {
      const parsed = JSON.parse(raw) as StoredSession;
      if (typeof parsed.id === 'string' && typeof parsed.last === 'number' && typeof parsed.seq === 'number') {
        return (this.session = parsed);
      }
    } catch {
      // a damaged entry starts a new session
    }
    return null;
  }

  private save(): void {
    if (this.session) this.sessions.setItem(SESSION_KEY, JSON.stringify(this.session));
  }

  /**
   * The current session id, after recording activity now. Returns `rotated: true` when this activity starts a new
   * session (none yet, or the last activity is older than {@link SESSION_IDLE_MS}).
   */
  touch(): { id: string; rotated: boolean } {
    const now = this.now();
    const current = this.load();
    if (current && now - current.last < SESSION_IDLE_MS) {
      current.last = now;
      this.save();
      return { id: current.id, rotated: false };
    }
    this.session = { id: 's_' + now.toString(36) + '_' + randomId(12), last: now, seq: 0 };
    this.save();
    return { id: this.session.id, rotated: true };
  }

  /** The next batch number of the current session. */
  nextSeq(): number {
    const current = this.load() ?? this.session;
    if (!current) return 1;
    current.seq += 1;
    this.save();
    return current.seq;
  }
}

/**
 * FNV-1a, 64 bits, of a string's UTF-8 bytes (the runner's sampling hash, `keep_session`), as the nearest double,
 * as Rust's `as f64` gives it. Computed in four 16-bit words: no BigInt, which older browsers lack.
 */
export function fnv1a64(text: string): number {
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (const b of new TextEncoder().encode(text)) {
    h0 ^= b;
    // h * (2^40 + 0x1b3) mod 2^64
    const t0 = h0 * 0x1b3;
    let t1 = h1 * 0x1b3;
    let t2 = h2 * 0x1b3 + (h0 << 8);
    const t3 = h3 * 0x1b3 + (h1 << 8);
    t1 += t0 >>> 16;
    h0 = t0 & 0xffff;
    t2 += t1 >>> 16;
    h1 = t1 & 0xffff;
    h3 = (t3 + (t2 >>> 16)) & 0xffff;
    h2 = t2 & 0xffff;
  }
  return ((h3 * 65536 + h2) * 65536 + h1) * 65536 + h0;
}

/** Whether the runner's sampling keeps `sessionId` at `rate` (0.0–1.0): the same answer the runner gives. */
export function keepSession(sessionId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  return fnv1a64(sessionId) / 18446744073709551616 < rate;
}
