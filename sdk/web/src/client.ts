// The SDK's client: collects analytics events and rrweb events of the current session into batches and hands
// them to the transport. Everything that touches the page (listeners, rrweb) is in `capture.ts`.

import { Identity, keepSession } from './session';
import { FLUSH_INTERVAL_MS, MAX_BATCH_BYTES, Timers, Transport } from './transport';

export const SDK_NAME = 'traceflow-web/0.1.0';

/** What the runner's `GET /v1/config` says (the active signed policy), with defaults when it cannot be read. */
export interface RemoteConfig {
  features: { replay: boolean; console_logs: boolean; network_capture: boolean };
  sampling: { session_rate: number };
}

export const DEFAULT_CONFIG: RemoteConfig = {
  features: { replay: true, console_logs: false, network_capture: false },
  sampling: { session_rate: 1 },
};

export interface Page {
  url(): string;
  referrer(): string;
  userAgent(): string;
  screen(): string;
}

export class Client {
  private events: string[] = [];
  private replay: string[] = [];
  private bytes = 0;
  private timer: unknown = null;
  private sessionId = '';
  private userId: string | undefined;
  /** Called when a new session starts (recording must take a new full snapshot). */
  onRotate: (() => void) | null = null;
  config: RemoteConfig = DEFAULT_CONFIG;

  constructor(
    readonly identity: Identity,
    private readonly transport: Transport,
    private readonly timers: Timers,
    private readonly page: Page,
  ) {}

  /** Whether this session is kept by the policy's sampling (a sampled-out session sends nothing). */
  sampledIn(): boolean {
    return keepSession(this.currentSession(), this.config.sampling.session_rate);
  }

  /** Whether rrweb should record this session. */
  recording(): boolean {
    return this.config.features.replay && this.sampledIn() && !this.identity.optedOut();
  }

  currentSession(): string {
    if (!this.sessionId) this.sessionId = this.identity.touch().id;
    return this.sessionId;
  }

  /** Records activity; starts a new session after the idle timeout (sending what belongs to the old one). */
  private activity(): void {
    const { id, rotated } = this.identity.touch();
    if (rotated && this.sessionId && id !== this.sessionId) {
      void this.flush();
      this.sessionId = id;
      this.onRotate?.();
    }
    this.sessionId = id;
  }

  identify(userId: string): void {
    this.userId = userId;
  }

  /** Adds an analytics event (`type` is one of the batch contract's types). */
  event(type: string, fields: Record<string, unknown>): void {
    if (this.identity.optedOut()) return;
    this.activity();
    if (!this.sampledIn()) return;
    const event: Record<string, unknown> = { type, ts: this.timers.now(), ...fields };
    if (this.userId !== undefined && event.user_id === undefined) event.user_id = this.userId;
    this.add(this.events, JSON.stringify(event));
  }

  /** Adds an rrweb event. */
  rrweb(event: unknown): void {
    if (!this.recording()) return;
    this.sessionId = this.identity.touch().id;
    this.add(this.replay, JSON.stringify(event));
  }

  private add(list: string[], json: string): void {
    list.push(json);
    this.bytes += json.length + 1;
    if (this.bytes >= MAX_BATCH_BYTES) {
      void this.flush();
    } else if (this.timer === null) {
      this.timer = this.timers.setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, FLUSH_INTERVAL_MS);
    }
  }

  /** The collected batch as JSON, emptied; `null` when nothing was collected. */
  take(): string | null {
    if (this.events.length === 0 && this.replay.length === 0) return null;
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
    const head: Record<string, unknown> = {
      session_id: this.currentSession(),
      seq: this.identity.nextSeq(),
      sent_at: this.timers.now(),
      context: {
        url: this.page.url(),
        referrer: this.page.referrer() || undefined,
        user_agent: this.page.userAgent(),
        screen: this.page.screen(),
        sdk: SDK_NAME,
      },
    };
    const visitor = this.identity.visitorId();
    if (visitor) head.visitor_id = visitor;
    const json =
      JSON.stringify(head).slice(0, -1) +
      ',"events":[' +
      this.events.join(',') +
      '],"replay":[' +
      this.replay.join(',') +
      ']}';
    this.events = [];
    this.replay = [];
    this.bytes = 0;
    return json;
  }

  /** Sends what was collected. */
  async flush(): Promise<void> {
    const json = this.take();
    if (json) await this.transport.send(json);
  }

  /** The page is being hidden or left: everything goes out by beacon. */
  flushNow(): void {
    this.transport.sendNow(this.take());
  }

  /** Forgets the visitor and stops sending until `optIn`. */
  optOut(): void {
    this.events = [];
    this.replay = [];
    this.bytes = 0;
    this.identity.optOut();
    this.sessionId = '';
  }
}
