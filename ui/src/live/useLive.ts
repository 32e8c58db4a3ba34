// Preact glue: one shared LiveClient for the app, and a hook giving a page its
// own reducer state fed by the socket.
import { useEffect, useReducer, useRef } from 'preact/hooks';
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
  const initialStatus = useRef(c.status);
  useEffect(() => {
    const off = c.listen(dispatch);
    // The connection may have changed between the first render and this effect
    // (e.g. opened): catch up so the page does not wait for an event it missed.
    if (c.status !== initialStatus.current) dispatch({ kind: c.status });
    return off;
  }, [c]);
  const key = JSON.stringify(sub);
  useEffect(() => c.subscribe(sub), [c, key]);
  return [state, dispatch];
}
