// Minimal client-side router on the History API (the Go handler serves index.html
// for every extension-less path).
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  path: string;
  params: URLSearchParams;
}

function current(): Route {
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

const listeners = new Set<() => void>();

/** Navigates to url (path + query) without a reload. `replace` keeps the history entry. */
export function navigate(url: string, replace = false): void {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const l of listeners) l();
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => setRoute(current());
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** Click handler for in-app links: plain left clicks navigate, modified clicks open normally. */
export function linkClick(ev: MouseEvent): void {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = (ev.currentTarget as HTMLElement).closest('a');
  if (!a || a.target || a.origin !== location.origin) return;
  ev.preventDefault();
  navigate(a.pathname + a.search);
}

export function tracesUrl(filter: string, range?: string): string {
  const p = new URLSearchParams();
  if (filter) p.set('filter', filter);
  if (range) p.set('range', range);
  const q = p.toString();
  return `/traces${q ? `?${q}` : ''}`;
}

export function traceUrl(id: string): string {
  return `/traces/${encodeURIComponent(id)}`;
}
