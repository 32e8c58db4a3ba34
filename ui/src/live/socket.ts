// Reconnecting websocket client for /ws: backoff with jitter, re-subscribes after
// every reconnect, reports connection changes and parsed messages to listeners.
import { backoffDelay } from './backoff';
import { parseServerMessage, type ClientMessage, type ServerMessage, type Subscription } from './messages';
import type { LiveAction } from './reducer';

type Listener = (a: LiveAction) => void;

export interface SocketLike {
  readyState: number;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface LiveClientOptions {
  url?: string;
  /** Creates the socket (tests pass a fake). */
  create?: (url: string) => SocketLike;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

/** Default websocket URL: /ws on the page's origin (ws: or wss:). */
export function defaultLiveUrl(loc: { protocol: string; host: string } = location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
}

export class LiveClient {
  private sock: SocketLike | undefined;
  private attempt = 0;
  private timer: unknown;
  private stopped = true;
  private sub: Subscription | undefined;
  private readonly listeners = new Set<Listener>();
  private readonly o: Required<Omit<LiveClientOptions, 'url'>> & { url: string };

  constructor(opts: LiveClientOptions = {}) {
    this.o = {
      url: opts.url ?? '',
      create: opts.create ?? ((u) => new WebSocket(u) as unknown as SocketLike),
      random: opts.random ?? Math.random,
      setTimer: opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms)),
      clearTimer: opts.clearTimer ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>)),
    };
  }

  /** Adds a listener; returns a function removing it. */
  listen(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Sets the subscription, sending it now if connected and after every reconnect. */
  subscribe(sub: Subscription): void {
    this.sub = sub;
    this.sendSub();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.o.clearTimer(this.timer);
    this.timer = undefined;
    const s = this.sock;
    this.sock = undefined;
    if (s) {
      s.onclose = s.onerror = s.onmessage = s.onopen = null;
      s.close(1000, 'bye');
    }
    this.emit({ kind: 'closed' });
  }

  /** The connection state as last reported to listeners. */
  get status(): 'connecting' | 'open' | 'closed' {
    return this.state;
  }

  /** Reconnect attempts since the last successful open. */
  get attempts(): number {
    return this.attempt;
  }

  private state: 'connecting' | 'open' | 'closed' = 'closed';

  private emit(a: LiveAction): void {
    if (a.kind === 'connecting' || a.kind === 'open' || a.kind === 'closed') this.state = a.kind;
    for (const l of this.listeners) l(a);
  }

  private sendSub(): void {
    if (!this.sub || !this.sock || this.sock.readyState !== 1) return;
    const m: ClientMessage = { type: 'subscribe', data: this.sub };
    this.sock.send(JSON.stringify(m));
  }

  private connect(): void {
    if (this.stopped) return;
    this.emit({ kind: 'connecting' });
    let s: SocketLike;
    try {
      s = this.o.create(this.o.url || defaultLiveUrl());
    } catch {
      this.retry();
      return;
    }
    this.sock = s;
    s.onopen = () => {
      this.attempt = 0;
      this.emit({ kind: 'open' });
      this.sendSub();
    };
    s.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      const m: ServerMessage | undefined = parseServerMessage(ev.data);
      if (m) this.emit({ kind: 'message', msg: m });
    };
    s.onerror = () => {
      // onclose follows; nothing to do here (and nothing worth logging to the console).
    };
    s.onclose = () => {
      if (this.sock !== s) return;
      this.sock = undefined;
      this.emit({ kind: 'closed' });
      this.retry();
    };
  }

  private retry(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.o.random);
    this.timer = this.o.setTimer(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
  }
}
