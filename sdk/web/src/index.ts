// TRACEFLOW web SDK: one script tag
//
//   <script src="https://runner.example.internal/sdk/v1/traceflow.js" data-key="PROJECT_KEY"></script>
//
// or `traceflow.init({ key, endpoint })` (the ES module build exports `init`). It reads what the runner's active
// policy allows (`GET /v1/config?key=`), then captures pageviews (single-page navigation included), clicks, errors
// and, when the policy allows them, network timings and console errors, and records the page with rrweb under
// privacy defaults: password and card-like inputs, and everything marked `data-tf-mask`, are masked in the
// browser; `data-tf-block` elements are not recorded; `data-tf-ignore` inputs are not tracked. The runner tokenizes
// whatever PII is left before anything is stored.

import { record } from '@rrweb/record';
import { Client, DEFAULT_CONFIG, Page, RemoteConfig } from './client';
import { Identity, storage } from './session';
import { browserSender, Timers, Transport } from './transport';

export interface Options {
  /** The project key the runner knows. */
  key: string;
  /** The runner's base URL (`https://runner.example.internal:8080`); defaults to the origin the SDK came from. */
  endpoint?: string;
  /** Record the session with rrweb when the policy allows it (default true). */
  recording?: boolean;
  /** Capture pageviews, clicks and errors (default true). */
  autocapture?: boolean;
}

export interface TraceflowApi {
  capture(name: string, properties?: Record<string, unknown>): void;
  identify(userId: string, traits?: Record<string, unknown>): void;
  optOut(): void;
  optIn(): void;
  flush(): Promise<void>;
  shutdown(): void;
  sessionId(): string;
}

const timers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

const page: Page = {
  url: () => location.href,
  referrer: () => document.referrer,
  userAgent: () => navigator.userAgent,
  screen: () => `${screen.width}x${screen.height}`,
};

/** Inputs whose values never leave the browser unmasked. */
const SENSITIVE = /pass|card|cc-?num|cvv|cvc|csc|pin\b|otp|one-?time|aadhaa?r|ssn|social|iban|account|pan\b|secret|token/i;

function sensitiveInput(element: HTMLElement): boolean {
  if (element.closest('[data-tf-mask]')) return true;
  const input = element as HTMLInputElement;
  const type = (input.type || '').toLowerCase();
  if (type === 'password') return true;
  const hints = [input.name, input.id, input.getAttribute('autocomplete'), input.getAttribute('aria-label')];
  return hints.some((h) => !!h && SENSITIVE.test(h));
}

/** A CSS selector of `element`: tags, ids and classes of it and up to four ancestors. */
export function selectorOf(element: Element): string {
  const parts: string[] = [];
  let el: Element | null = element;
  for (let depth = 0; el && el.nodeType === 1 && depth < 5; depth++, el = el.parentElement) {
    let part = el.tagName.toLowerCase();
    if (el.id) {
      parts.unshift(`${part}#${CSS.escape(el.id)}`);
      break;
    }
    const classes = Array.from(el.classList).slice(0, 3);
    if (classes.length) part += '.' + classes.map((c) => CSS.escape(c)).join('.');
    parts.unshift(part);
  }
  return parts.join(' > ');
}

function textOf(element: Element): string | undefined {
  if (element.closest('[data-tf-mask],[data-tf-block]')) return undefined;
  const text = ((element as HTMLElement).innerText || element.textContent || '').replace(/\s+/g, ' ').trim();
  return text ? text.slice(0, 64) : undefined;
}

async function remoteConfig(endpoint: string, key: string): Promise<RemoteConfig> {
  try {
    const response = await fetch(`${endpoint}/v1/config?key=${encodeURIComponent(key)}`, { credentials: 'omit' });
    if (!response.ok) return DEFAULT_CONFIG;
    const body = (await response.json()) as Partial<RemoteConfig>;
    return {
      features: { ...DEFAULT_CONFIG.features, ...(body.features ?? {}) },
      sampling: { ...DEFAULT_CONFIG.sampling, ...(body.sampling ?? {}) },
    };
  } catch {
    return DEFAULT_CONFIG;
  }
}

let instance: TraceflowApi | null = null;

export function init(options: Options): TraceflowApi {
  if (instance) return instance;
  if (!options || !options.key) throw new Error('traceflow.init: `key` (the project key) is required');
  const endpoint = (options.endpoint || scriptOrigin() || location.origin).replace(/\/+$/, '');
  const identity = new Identity(storage('sessionStorage'), storage('localStorage'));
  const transport = new Transport(`${endpoint}/v1/batch?key=${encodeURIComponent(options.key)}`, browserSender(), timers);
  const client = new Client(identity, transport, timers, page);
  const cleanups: (() => void)[] = [];
  const listen = (target: EventTarget, type: string, fn: EventListener, capture = true) => {
    target.addEventListener(type, fn, { capture, passive: true });
    cleanups.push(() => target.removeEventListener(type, fn, { capture }));
  };
  let stopRecording: (() => void) | undefined;
  const startRecording = () => {
    if (options.recording === false || stopRecording || !client.recording()) return;
    stopRecording =
      record({
        emit: (event) => client.rrweb(event),
        maskAllInputs: true,
        maskInputFn: (text, element) => (sensitiveInput(element) ? '*'.repeat(text.length) : text),
        maskTextSelector: '[data-tf-mask]',
        blockSelector: '[data-tf-block]',
        ignoreSelector: '[data-tf-ignore]',
        // A new full snapshot every 10 minutes, so a long session can be replayed from any point.
        checkoutEveryNms: 10 * 60 * 1000,
        sampling: { mousemove: 50, scroll: 150 },
        recordCanvas: false,
        collectFonts: false,
      }) || undefined;
  };
  client.onRotate = () => {
    stopRecording?.();
    stopRecording = undefined;
    startRecording();
  };

  const pageview = () => client.event('pageview', { url: location.href, title: document.title || undefined });
  void remoteConfig(endpoint, options.key).then((config) => {
    client.config = config;
    if (options.autocapture !== false) pageview();
    startRecording();
    if (config.features.network_capture) watchNetwork(client, endpoint, cleanups);
    if (config.features.console_logs) watchConsole(client, cleanups);
  });

  if (options.autocapture !== false) {
    for (const method of ['pushState', 'replaceState'] as const) {
      const original = history[method];
      history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
        const before = location.href;
        const result = original.apply(this, args);
        if (location.href !== before) pageview();
        return result;
      };
      cleanups.push(() => (history[method] = original));
    }
    listen(window, 'popstate', () => pageview());
    listen(document, 'click', (e) => {
      const target = (e as MouseEvent).target as Element | null;
      if (!target || target.nodeType !== 1 || target.closest('[data-tf-ignore]')) return;
      const m = e as MouseEvent;
      client.event('click', { selector: selectorOf(target), text: textOf(target), x: m.pageX, y: m.pageY });
    });
    listen(window, 'error', (e) => {
      const ev = e as ErrorEvent;
      if (!ev.message) return; // a resource that failed to load, not a script error
      client.event('error', {
        message: ev.message,
        source: ev.filename || undefined,
        line: ev.lineno || undefined,
        column: ev.colno || undefined,
        stack: ev.error && ev.error.stack ? String(ev.error.stack).slice(0, 4000) : undefined,
      });
    });
    listen(window, 'unhandledrejection', (e) => {
      const reason = (e as PromiseRejectionEvent).reason;
      client.event('error', {
        message: reason instanceof Error ? reason.message : String(reason),
        kind: 'unhandledrejection',
        stack: reason instanceof Error && reason.stack ? reason.stack.slice(0, 4000) : undefined,
      });
    });
  }
  listen(document, 'visibilitychange', () => {
    if (document.visibilityState === 'hidden') client.flushNow();
  });
  listen(window, 'pagehide', () => client.flushNow());

  instance = {
    capture: (name, properties) => client.event('custom', { name, props: properties }),
    identify: (userId, traits) => {
      client.identify(userId);
      client.event('custom', { name: '$identify', props: traits });
    },
    optOut: () => {
      stopRecording?.();
      stopRecording = undefined;
      client.optOut();
    },
    optIn: () => {
      identity.optIn();
      startRecording();
    },
    flush: () => client.flush(),
    shutdown: () => {
      stopRecording?.();
      client.flushNow();
      for (const cleanup of cleanups.splice(0)) cleanup();
      instance = null;
    },
    sessionId: () => client.currentSession(),
  };
  return instance;
}

/** Resource timings of the page's requests (not the SDK's own), as `network` events. */
function watchNetwork(client: Client, endpoint: string, cleanups: (() => void)[]): void {
  if (typeof PerformanceObserver === 'undefined') return;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as PerformanceResourceTiming[]) {
      if (entry.name.startsWith(endpoint)) continue;
      client.event('network', {
        url: entry.name,
        initiator: entry.initiatorType,
        duration: Math.round(entry.duration),
        size: entry.transferSize || undefined,
        status: (entry as PerformanceResourceTiming & { responseStatus?: number }).responseStatus || undefined,
      });
    }
  });
  try {
    observer.observe({ type: 'resource', buffered: false });
    cleanups.push(() => observer.disconnect());
  } catch {
    // an old browser without resource timing
  }
}

/** `console.error` and `console.warn` calls as `custom` events named `console`. */
function watchConsole(client: Client, cleanups: (() => void)[]): void {
  for (const level of ['error', 'warn'] as const) {
    const original = console[level];
    console[level] = (...args: unknown[]) => {
      try {
        const message = args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' ').slice(0, 2000);
        client.event('custom', { name: 'console', props: { level, message } });
      } catch {
        // never break the page's logging
      }
      original.apply(console, args);
    };
    cleanups.push(() => (console[level] = original));
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The origin the SDK was loaded from (its `<script src>`), for the one-tag setup. */
function scriptOrigin(): string | undefined {
  const script = currentScript;
  if (!script || !script.src) return undefined;
  try {
    return new URL(script.src).origin;
  } catch {
    return undefined;
  }
}

const currentScript: HTMLScriptElement | null =
  typeof document !== 'undefined' ? (document.currentScript as HTMLScriptElement | null) : null;

/** The one-tag setup: `<script src=…/traceflow.js data-key=…>` starts itself. */
export function autostart(): void {
  const key = currentScript?.getAttribute('data-key');
  if (key) {
    init({ key, endpoint: currentScript?.getAttribute('data-endpoint') || undefined });
  }
}
