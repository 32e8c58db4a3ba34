import { describe, expect, it } from 'vitest';
import type { LiveAction } from './reducer';
import { defaultLiveUrl, LiveClient, type SocketLike } from './socket';

class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  sent: string[] = [];
  closed = false;
  constructor(readonly url: string) {}
  send(d: string) {
    this.sent.push(d);
  }
  close() {
    this.closed = true;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({} as Event);
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({} as CloseEvent);
  }
  receive(text: string) {
    this.onmessage?.({ data: text } as MessageEvent);
  }
}

function setup() {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const actions: LiveAction[] = [];
  const c = new LiveClient({
    url: 'ws://h/ws',
    create: (u) => {
      const s = new FakeSocket(u);
      sockets.push(s);
      return s;
    },
    random: () => 0.5,
    setTimer: (fn, ms) => timers.push({ fn, ms }),
    clearTimer: () => {},
  });
  c.listen((a) => actions.push(a));
  return { c, sockets, timers, actions };
}

describe('LiveClient', () => {
  it('subscribes on open and again after each reconnect, with growing delays', () => {
    const { c, sockets, timers, actions } = setup();
    c.subscribe({ topics: ['trace.summary'], filter: 'fault' });
    c.start();
    expect(sockets).toHaveLength(1);
    sockets[0]!.open();
    expect(JSON.parse(sockets[0]!.sent[0]!)).toEqual({ type: 'subscribe', data: { topics: ['trace.summary'], filter: 'fault' } });
    sockets[0]!.receive(JSON.stringify({ type: 'trace.summary', seq: 1, data: { Id: '1-a' } }));
    sockets[0]!.receive('garbage');
    expect(actions.filter((a) => a.kind === 'message')).toHaveLength(1);

    sockets[0]!.drop();
    expect(timers).toHaveLength(1);
    expect(timers[0]!.ms).toBe(375); // 500 ms step, half plus jitter
    timers[0]!.fn();
    expect(sockets).toHaveLength(2);
    sockets[1]!.drop(); // failed attempt: longer delay
    expect(timers[1]!.ms).toBe(750);
    timers[1]!.fn();
    sockets[2]!.open();
    expect(sockets[2]!.sent).toHaveLength(1);
    expect(c.attempts).toBe(0);
    c.subscribe({ topics: ['graph.delta'] });
    expect(sockets[2]!.sent).toHaveLength(2);
    expect(actions.map((a) => a.kind)).toEqual(['connecting', 'open', 'message', 'closed', 'connecting', 'closed', 'connecting', 'open']);
  });

  it('stops reconnecting after stop()', () => {
    const { c, sockets, timers } = setup();
    c.start();
    sockets[0]!.open();
    c.stop();
    expect(sockets[0]!.closed).toBe(true);
    expect(timers).toHaveLength(0);
  });

  it('derives the URL from the page origin', () => {
    expect(defaultLiveUrl({ protocol: 'http:', host: '127.0.0.1:2001' })).toBe('ws://127.0.0.1:2001/ws');
    expect(defaultLiveUrl({ protocol: 'https:', host: 'x' })).toBe('wss://x/ws');
  });
});
