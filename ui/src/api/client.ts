// Typed fetch client for the X-Ray REST API on the same origin, and the error
// parsing shared by every endpoint. Framework-free (tested with Vitest in Node).

/** An error response of the X-Ray (or Lambda) API, or a transport failure. */
export class ApiError extends Error {
  /** Error shape name, e.g. InvalidRequestException; "NetworkError" when no response arrived. */
  readonly code: string;
  /** HTTP status (0 when no response arrived). */
  readonly status: number;
  /**
   * For filter-expression errors: the 0-based position in the expression (a UTF-16
   * index, ready for setSelectionRange), when the message carries one.
   */
  readonly position: number | undefined;

  constructor(code: string, message: string, status: number, position?: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.position = position;
  }
}

/** The minimal header accessor parseApiError needs (a Headers object satisfies it). */
export interface HeaderGetter {
  get(name: string): string | null;
}

/**
 * Builds an ApiError from an error response the way the AWS SDKs do: the code
 * from the X-Amzn-ErrorType header (text before the first ':'), else the body's
 * `code` / `__type` (text after '#'); the message from `message` / `Message`
 * (any case). `expr`, when given, is the filter expression the request carried:
 * the byte offset in the message is converted to a string index within it.
 */
export function parseApiError(status: number, headers: HeaderGetter, bodyText: string, expr?: string): ApiError {
  let body: Record<string, unknown> | undefined;
  try {
    const v: unknown = JSON.parse(bodyText);
    if (v && typeof v === 'object' && !Array.isArray(v)) body = v as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  let code = (headers.get('x-amzn-errortype') ?? '').split(':')[0]!.trim();
  if (!code && body) {
    const c = body['code'] ?? body['Code'] ?? body['__type'];
    if (typeof c === 'string') code = c.slice(c.lastIndexOf('#') + 1).split(':')[0]!.trim();
  }
  if (!code) code = status >= 500 ? 'InternalFailure' : status === 429 ? 'ThrottledException' : `HTTP${status}`;

  let message = '';
  if (body) {
    for (const k of Object.keys(body)) {
      if (k.toLowerCase() === 'message' && typeof body[k] === 'string') {
        message = body[k] as string;
        break;
      }
    }
  } else if (bodyText.trim() && bodyText.length < 2000 && !/^\s*</.test(bodyText)) {
    message = bodyText.trim();
  }
  if (!message) message = `${code} (HTTP ${status})`;

  let pos: number | undefined;
  const explicit = body?.['Position'] ?? body?.['position'];
  if (typeof explicit === 'number' && Number.isInteger(explicit) && explicit >= 0) pos = explicit;
  else pos = errorPosition(message);
  if (pos !== undefined && expr !== undefined) pos = byteOffsetToIndex(expr, pos);
  return new ApiError(code, message, status, pos);
}

/**
 * Finds the position a parse-error message refers to. Fluoro's filter parser
 * ends its messages with "at <byte offset>" (e.g. `expected ")", found "{" at 17`);
 * "at position N", "position N", "offset N", "pos N" and "column N" (1-based) are
 * also understood. Returns undefined when the message names no position.
 */
export function errorPosition(message: string): number | undefined {
  const patterns: [RegExp, number][] = [
    [/\bat (?:position|offset|pos|byte|char(?:acter)?) (\d+)\b/i, 0],
    [/\b(?:position|offset|pos)[ :=]+(\d+)\b/i, 0],
    [/\bcol(?:umn)?[ :=]+(\d+)\b/i, -1],
    [/\bat (\d+)\s*[.)]?\s*$/i, 0],
  ];
  for (const [re, adjust] of patterns) {
    const m = re.exec(message);
    if (m) return Math.max(0, Number(m[1]) + adjust);
  }
  return undefined;
}

/** Converts a UTF-8 byte offset in s to a UTF-16 string index (clamped to s.length). */
export function byteOffsetToIndex(s: string, byteOffset: number): number {
  let bytes = 0;
  let i = 0;
  while (i < s.length && bytes < byteOffset) {
    const cp = s.codePointAt(i)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp >= 0x10000 ? 2 : 1;
  }
  return i;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface CallOptions {
  signal?: AbortSignal;
  /** Replaces the global fetch (tests). */
  fetch?: FetchLike;
  /** The filter expression in the request, to locate parse errors in it. */
  expr?: string;
}

/** Base URL for API calls; empty means the page's own origin. */
let apiBase = '';

/** Sets the origin the client talks to (the dashboard is normally served by the API itself). */
export function setApiBase(base: string): void {
  apiBase = base.replace(/\/+$/, '');
}

/** POSTs a JSON body to an X-Ray operation path (e.g. "/ServiceGraph") and returns the parsed JSON answer. */
export async function xrayCall<T>(path: string, body: unknown, opts: CallOptions = {}): Promise<T> {
  const f = opts.fetch ?? fetch;
  let resp: Response;
  try {
    resp = await f(apiBase + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body ?? {}),
      signal: opts.signal ?? null,
    });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError('NetworkError', `cannot reach the server: ${errText(e)}`, 0);
  }
  const text = await resp.text();
  if (!resp.ok) throw parseApiError(resp.status, resp.headers, text, opts.expr);
  if (!text.trim()) return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError('SerializationException', `the server answered ${path} with invalid JSON`, resp.status);
  }
}

export function isAbort(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: string }).name === 'AbortError';
}

export function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
