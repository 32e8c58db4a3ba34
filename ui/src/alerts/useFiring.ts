// For the service map: the names of the services that firing alerts point at,
// kept current from GET /alerting/alerts and the websocket's alert messages.
// MapPage marks those nodes with a dashed fault-coloured ring (data-alert="firing").
import { useEffect, useState } from 'preact/hooks';
import { liveClient } from '../live/useLive';
import { listAlerts, type RuleStatus } from './api';
import { firingServices, isEngineAlert } from './model';

export function useFiringServices(pollMs = 30000): Set<string> {
  const [alerts, setAlerts] = useState<RuleStatus[]>([]);
  useEffect(() => {
    let stopped = false;
    const load = () =>
      listAlerts()
        .then((a) => !stopped && setAlerts(a))
        .catch(() => undefined);
    void load();
    const t = setInterval(load, pollMs);
    // Any alert message from the engine changes the set: reload.
    const off = liveClient().listen((a) => {
      if (a.kind === 'message' && a.msg.type === 'alert' && isEngineAlert(a.msg.data)) void load();
    });
    return () => {
      stopped = true;
      clearInterval(t);
      off();
    };
  }, [pollMs]);
  return firingServices(alerts);
}
