import { useEffect, useState } from 'preact/hooks';
import { AlertsPage } from './alerts/AlertsPage';
import { Link } from './components/common';
import { FunctionsPage } from './functions/FunctionsPage';
import type { Alert } from './live/messages';
import { liveClient } from './live/useLive';
import { useRoute } from './router';
import { TracesPage } from './search/TracesPage';
import { MapPage } from './servicemap/MapPage';
import { TracePage } from './trace/TracePage';

function Nav(props: { path: string }) {
  const item = (href: string, label: string, testid: string, active: boolean) => (
    <li>
      <Link href={href} testid={testid} class={active ? 'active' : ''}>
        <span aria-current={active ? 'page' : undefined}>{label}</span>
      </Link>
    </li>
  );
  const p = props.path;
  return (
    <nav aria-label="Main">
      <ul>
        {item('/', 'Service map', 'nav-map', p === '/' || p === '/map')}
        {item('/traces', 'Traces', 'nav-traces', p.startsWith('/traces'))}
        {item('/functions', 'Functions', 'nav-functions', p.startsWith('/functions'))}
        {item('/alerts', 'Alerts', 'nav-alerts', p.startsWith('/alerts'))}
      </ul>
    </nav>
  );
}

function Alerts() {
  const [alerts, setAlerts] = useState<Alert[]>([]);
  useEffect(
    () =>
      liveClient().listen((a) => {
        if (a.kind === 'message' && a.msg.type === 'alert') {
          const al = a.msg.data;
          setAlerts((xs) => (xs.some((x) => x.id === al.id) ? xs : [al, ...xs].slice(0, 5)));
        }
      }),
    [],
  );
  if (!alerts.length) return null;
  return (
    <div class="alerts" aria-live="polite">
      {alerts.map((a) => (
        <div key={a.id} class={`alert sev-${a.severity}`} role="status" data-testid="alert">
          <div>
            <strong>{a.title}</strong>
            {a.message ? <div>{a.message}</div> : null}
          </div>
          <button type="button" class="icon" aria-label="Dismiss" onClick={() => setAlerts((xs) => xs.filter((x) => x.id !== a.id))}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

export function App() {
  const route = useRoute();
  const p = route.path.replace(/\/+$/, '') || '/';
  let page;
  const traceMatch = /^\/traces\/([^/]+)$/.exec(p);
  if (p === '/' || p === '/map') page = <MapPage key={route.params.get('group') ?? ''} />; // a new group starts afresh
  else if (traceMatch) page = <TracePage id={decodeURIComponent(traceMatch[1]!)} />;
  else if (p === '/traces') page = <TracesPage />;
  else if (p === '/functions') page = <FunctionsPage />;
  else if (p === '/alerts') page = <AlertsPage />;
  else
    page = (
      <div class="page">
        <p class="empty" data-testid="not-found">
          Nothing here. <Link href="/">Go to the service map</Link>.
        </p>
      </div>
    );
  useEffect(() => {
    document.title = `Fluoro · ${p === '/' || p === '/map' ? 'Service map' : traceMatch ? 'Trace' : p === '/traces' ? 'Traces' : p === '/functions' ? 'Functions' : p === '/alerts' ? 'Alerts' : 'Not found'}`;
  }, [p]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/" class="brand">
          <span class="logo" aria-hidden="true" />
          Fluoro
        </Link>
        <Nav path={p} />
      </header>
      <Alerts />
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}
