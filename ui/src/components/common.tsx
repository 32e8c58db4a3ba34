import type { ComponentChildren } from 'preact';
import { ranges } from '../timerange';
import { linkClick } from '../router';

export function TimeRangeSelect(props: { value: string; onChange: (v: string) => void; testid?: string }) {
  return (
    <label class="field">
      <span>Time range</span>
      <select
        data-testid={props.testid ?? 'time-range'}
        value={props.value}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
      >
        {ranges.map((r) => (
          <option key={r.id} value={r.id}>
            {r.label}
          </option>
        ))}
      </select>
    </label>
  );
}

export function LiveToggle(props: { live: boolean; status: string; missed: number; onToggle: () => void }) {
  const title = props.live
    ? props.status === 'open'
      ? 'Live: updates arrive over the websocket. Click to pause.'
      : `Live, ${props.status === 'connecting' ? 'connecting' : 'reconnecting'}…`
    : `Paused${props.missed ? ` (${props.missed} updates held back)` : ''}. Click to resume.`;
  return (
    <button
      type="button"
      class={`live-toggle ${props.live ? 'is-live' : 'is-paused'} conn-${props.status}`}
      aria-pressed={props.live}
      data-testid="live-toggle"
      data-live={props.live ? 'true' : 'false'}
      data-conn={props.status}
      title={title}
      onClick={props.onToggle}
    >
      <span class="live-dot" aria-hidden="true" />
      {props.live ? 'Live' : 'Paused'}
    </button>
  );
}

export function Link(props: { href: string; children: ComponentChildren; class?: string; testid?: string; title?: string }) {
  return (
    <a href={props.href} class={props.class} data-testid={props.testid} title={props.title} onClick={linkClick}>
      {props.children}
    </a>
  );
}

export function ErrorBox(props: { error: unknown; testid?: string }) {
  if (!props.error) return null;
  const e = props.error as { code?: string; message?: string };
  return (
    <div class="error-box" role="alert" data-testid={props.testid ?? 'error'}>
      {e.code ? <strong>{e.code}: </strong> : null}
      {e.message ?? String(props.error)}
    </div>
  );
}

export function StatusBadge(props: { status: 'ok' | 'error' | 'throttle' | 'fault' | 'idle'; label?: string }) {
  return <span class={`badge st-${props.status}`}>{props.label ?? props.status}</span>;
}
