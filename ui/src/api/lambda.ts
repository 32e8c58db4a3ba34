// Client for the Lambda-compatible invoker, reached through the same-origin proxy
// path /lambda/ (the Go server forwards /lambda/<rest> to the invoker's API as
// /<rest>, so the browser needs no CORS). Framework-free.
import { ApiError, errText, isAbort, parseApiError, type FetchLike } from './client';

/** Path prefix of the same-origin proxy to the invoker API. */
export const lambdaPrefix = '/lambda';

export interface FunctionConfiguration {
  FunctionName?: string;
  FunctionArn?: string;
  Runtime?: string;
  Handler?: string;
  MemorySize?: number;
  Timeout?: number;
  LastModified?: string;
  Description?: string;
  State?: string;
  PackageType?: string;
  TracingConfig?: { Mode?: string };
}

interface ListFunctionsResult {
  Functions?: FunctionConfiguration[];
  NextMarker?: string | null;
}

export interface InvokeResult {
  status: number;
  /** X-Amz-Function-Error ("Unhandled" / "Handled"), empty when the function succeeded. */
  functionError: string;
  executedVersion: string;
  requestId: string;
  /** The response payload as text. */
  payload: string;
  /** Decoded X-Amz-Log-Result (the last 4 KB of the invocation's log), empty if absent. */
  log: string;
  /** The X-Ray trace id of the invocation (sent by us in X-Amzn-Trace-Id). */
  traceId: string;
  durationMs: number;
}

/** ListFunctions (GET /2015-03-31/functions), all pages. */
export async function listFunctions(opts: { signal?: AbortSignal; fetch?: FetchLike } = {}): Promise<FunctionConfiguration[]> {
  const f = opts.fetch ?? fetch;
  const out: FunctionConfiguration[] = [];
  let marker = '';
  for (let i = 0; i < 50; i++) {
    const url = `${lambdaPrefix}/2015-03-31/functions${marker ? `?Marker=${encodeURIComponent(marker)}` : ''}`;
    const resp = await send(f, url, { method: 'GET', signal: opts.signal ?? null });
    const text = await resp.text();
    if (!resp.ok) throw parseApiError(resp.status, resp.headers, text);
    let r: ListFunctionsResult;
    try {
      r = (text.trim() ? JSON.parse(text) : {}) as ListFunctionsResult;
    } catch {
      throw new ApiError('InvalidResponse', `${lambdaPrefix}/ did not answer with JSON: is the invoker proxy wired?`, resp.status);
    }
    out.push(...(r.Functions ?? []));
    marker = r.NextMarker ?? '';
    if (!marker) break;
  }
  return out;
}

/**
 * Invoke (POST /2015-03-31/functions/{name}/invocations) synchronously with the
 * log tail requested and a sampled X-Ray trace header, so that the dashboard can
 * link to the invocation's trace.
 */
export async function invokeFunction(
  name: string,
  payload: string,
  opts: { signal?: AbortSignal; fetch?: FetchLike; now?: () => number; random?: () => number } = {},
): Promise<InvokeResult> {
  const f = opts.fetch ?? fetch;
  const traceId = newTraceId((opts.now ?? Date.now)(), opts.random ?? Math.random);
  const started = performanceNow();
  const resp = await send(f, `${lambdaPrefix}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Amz-Invocation-Type': 'RequestResponse',
      'X-Amz-Log-Type': 'Tail',
      'X-Amzn-Trace-Id': `Root=${traceId};Sampled=1`,
    },
    body: payload,
    signal: opts.signal ?? null,
  });
  const text = await resp.text();
  if (!resp.ok) throw parseApiError(resp.status, resp.headers, text);
  const h = resp.headers;
  const echoed = /Root=(1-[0-9a-f]{8}-[0-9a-f]{24})/i.exec(h.get('x-amzn-trace-id') ?? '');
  return {
    status: resp.status,
    functionError: h.get('x-amz-function-error') ?? '',
    executedVersion: h.get('x-amz-executed-version') ?? '',
    requestId: h.get('x-amzn-requestid') ?? h.get('x-amz-request-id') ?? '',
    payload: text,
    log: decodeLogResult(h.get('x-amz-log-result') ?? ''),
    traceId: echoed ? echoed[1]! : traceId,
    durationMs: performanceNow() - started,
  };
}

/** Decodes X-Amz-Log-Result (base64 of UTF-8 log text). Invalid input yields a note, not an exception. */
export function decodeLogResult(b64: string): string {
  if (!b64) return '';
  try {
    const bin = atob(b64.replace(/\s+/g, ''));
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  } catch {
    return `(undecodable X-Amz-Log-Result: ${b64.slice(0, 64)})`;
  }
}

/** Makes an X-Ray trace id: 1-<8 hex epoch seconds>-<24 hex random>. */
export function newTraceId(nowMs: number, random: () => number): string {
  const epoch = Math.floor(nowMs / 1000).toString(16).padStart(8, '0');
  let rnd = '';
  for (let i = 0; i < 24; i++) rnd += Math.floor(random() * 16).toString(16);
  return `1-${epoch}-${rnd}`;
}

async function send(f: FetchLike, url: string, init: RequestInit): Promise<Response> {
  try {
    return await f(url, init);
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError('NetworkError', `cannot reach the invoker: ${errText(e)}`, 0);
  }
}

function performanceNow(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
