// Functions of the bundled Lambda-compatible invoker (through the /lambda/ proxy):
// list, invoke with a JSON payload, show the result, the log tail and the trace.
import { useEffect, useState } from 'preact/hooks';
import { isAbort } from '../api/client';
import { invokeFunction, listFunctions, type FunctionConfiguration, type InvokeResult } from '../api/lambda';
import { ErrorBox, Link } from '../components/common';
import { traceUrl } from '../router';

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function FunctionsPage() {
  const [fns, setFns] = useState<FunctionConfiguration[] | null>(null);
  const [listError, setListError] = useState<unknown>(null);
  const [selected, setSelected] = useState<string>('');
  const [payload, setPayload] = useState('{\n  "hello": "world"\n}');
  const [payloadError, setPayloadError] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<InvokeResult | null>(null);
  const [invokeError, setInvokeError] = useState<unknown>(null);

  const load = () => {
    const ac = new AbortController();
    listFunctions({ signal: ac.signal })
      .then((f) => {
        setFns(f);
        setListError(null);
        setSelected((cur) => cur || f[0]?.FunctionName || '');
      })
      .catch((e: unknown) => {
        if (!isAbort(e)) setListError(e);
      });
    return () => ac.abort();
  };
  useEffect(load, []);

  const invoke = async (ev: Event) => {
    ev.preventDefault();
    try {
      JSON.parse(payload);
      setPayloadError('');
    } catch (e) {
      setPayloadError(`The payload is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    setBusy(true);
    setInvokeError(null);
    try {
      setResult(await invokeFunction(selected, payload));
    } catch (e) {
      setResult(null);
      setInvokeError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page functions-page">
      <section class="fn-list">
        <header class="section-head">
          <h1>Functions</h1>
          <button type="button" onClick={load} data-testid="functions-refresh">
            Refresh
          </button>
        </header>
        <ErrorBox error={listError} testid="functions-error" />
        {listError ? (
          <p class="muted">The invoker is reached through the same-origin proxy /lambda/; is `fluoro invoker` running?</p>
        ) : null}
        {fns && fns.length === 0 && <p class="empty">No functions. Create one with the AWS CLI or SDK against the invoker.</p>}
        {fns && fns.length > 0 && (
          <table class="fn-table" data-testid="function-list">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Runtime</th>
                <th scope="col">Memory</th>
                <th scope="col">Timeout</th>
                <th scope="col">Tracing</th>
              </tr>
            </thead>
            <tbody>
              {fns.map((f) => (
                <tr key={f.FunctionName} data-testid="function-row" data-function-name={f.FunctionName} class={f.FunctionName === selected ? 'selected' : ''}>
                  <td>
                    <button type="button" class="linkish" aria-pressed={f.FunctionName === selected} onClick={() => setSelected(f.FunctionName ?? '')}>
                      {f.FunctionName}
                    </button>
                  </td>
                  <td>{f.Runtime ?? f.PackageType ?? ''}</td>
                  <td class="num">{f.MemorySize ? `${f.MemorySize} MB` : ''}</td>
                  <td class="num">{f.Timeout ? `${f.Timeout} s` : ''}</td>
                  <td>{f.TracingConfig?.Mode ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {selected && (
        <section class="fn-invoke">
          <h2>
            Invoke <span class="mono">{selected}</span>
          </h2>
          <form onSubmit={invoke}>
            <label for="payload" class="filter-label">
              Payload (JSON)
            </label>
            <textarea
              id="payload"
              data-testid="payload-input"
              class={`payload ${payloadError ? 'invalid' : ''}`}
              rows={8}
              spellcheck={false}
              value={payload}
              aria-invalid={payloadError !== ''}
              onInput={(e) => setPayload((e.currentTarget as HTMLTextAreaElement).value)}
            />
            {payloadError && (
              <div class="filter-error" role="alert">
                {payloadError}
              </div>
            )}
            <button type="submit" class="primary" data-testid="invoke-button" disabled={busy}>
              {busy ? 'Invoking…' : 'Invoke'}
            </button>
          </form>
          <ErrorBox error={invokeError} testid="invoke-error" />
          {result && (
            <div class="invoke-result" data-testid="invoke-result" data-function-error={result.functionError}>
              <p>
                <span class={`badge st-${result.functionError ? 'fault' : 'ok'}`}>{result.functionError ? `function error: ${result.functionError}` : `HTTP ${result.status}`}</span>{' '}
                {result.executedVersion && <span class="muted">version {result.executedVersion} · </span>}
                <span class="muted">{Math.round(result.durationMs)} ms round trip</span>{' '}
                <Link href={traceUrl(result.traceId)} testid="invoke-trace-link">
                  View trace {result.traceId}
                </Link>
              </p>
              <h3>Result</h3>
              <pre class="code" data-testid="invoke-payload">
                {pretty(result.payload)}
              </pre>
              <h3>Log tail</h3>
              <pre class="code log" data-testid="invoke-log">
                {result.log || '(no log returned)'}
              </pre>
            </div>
          )}
        </section>
      )}
    </div>
  );
}
