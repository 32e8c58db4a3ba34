// Preact glue: one shared LiveClient for the app, and a hook giving a page its
// own reducer state fed by the socket.
import { useEffect, useReducer } from 'preact/hooks';
import type { Subscription } from './messages';
import { initialLiveState, liveReducer, type LiveAction, type LiveState } from './reducer';
import { LiveClient } from './socket';

let client: LiveClient | undefined;

export function liveClient(): LiveClient {
  if (!client) {
    client = new LiveClient();
    client.start();
  }
  return client;
}

/**
 * Subscribes the shared socket to `sub` (re-sent on change and after reconnects)
 * and returns the page's live state and dispatcher.
 */
export function useLive(sub: Subscription, initialLive = true): [LiveState, (a: LiveAction) => void] {
  const c = liveClient();
  const [state, dispatch] = useReducer(liveReducer, undefined, () => ({ ...initialLiveState(initialLive), status: c.status }));
  useEffect(() => c.listen(dispatch), [c]);
  const key = JSON.stringify(sub);
  useEffect(() => c.subscribe(sub), [c, key]);
  return [state, dispatch];
}
