import { describe, expect, it } from 'vitest';
import { ApiError, byteOffsetToIndex, errorPosition, parseApiError, xrayCall, type FetchLike } from './client';
import { decodeLogResult, invokeFunction, newTraceId } from './lambda';
import { getServiceGraph, getTraceSummaries } from './xray';

const hdr = (h: Record<string, string> = {}) => new Headers(h);

describe('parseApiError', () => {
  it('takes the code from X-Amzn-ErrorType and the message from the body', () => {
    const e = parseApiError(400, hdr({ 'X-Amzn-ErrorType': 'InvalidRequestException:http://internal' }), '{"message":"bad time range"}');
    expect(e).toBeInstanceOf(ApiError);
    expect([e.code, e.message, e.status, e.position]).toEqual(['InvalidRequestException', 'bad time range', 400, undefined]);
  });

  it('falls back to __type / code and any-case message', () => {
    expect(parseApiError(400, hdr(), '{"__type":"com.amazonaws.xray#InvalidRequestException","Message":"m"}').code).toBe('InvalidRequestException');
    expect(parseApiError(404, hdr(), '{"code":"ResourceNotFoundException","MESSAGE":"gone"}').message).toBe('gone');
    expect(parseApiError(429, hdr(), '').code).toBe('ThrottledException');
    expect(parseApiError(502, hdr(), '<html>bad gateway</html>').message).toBe('InternalFailure (HTTP 502)');
    expect(parseApiError(400, hdr(), 'plain words').message).toBe('plain words');
  });

  it('finds the position of filter-expression errors', () => {
    const expr = 'service("api") { fault';
    const e = parseApiError(400, hdr({ 'X-Amzn-ErrorType': 'InvalidRequestException' }),
      JSON.stringify({ __type: 'InvalidRequestException', message: 'invalid filter expression: expected "}", found end of expression at 22' }), expr);
    expect(e.position).toBe(22);
    // Byte offsets past non-ASCII text become string indexes.
    const uni = 'user = "zoë" AND (';
    const bytePos = new TextEncoder().encode(uni).length;
    expect(parseApiError(400, hdr(), JSON.stringify({ message: `expected an expression, found end at ${bytePos}` }), uni).position).toBe(uni.length);
    expect(parseApiError(400, hdr(), JSON.stringify({ message: 'x', Position: 4 })).position).toBe(4);
  });

  it.each([
    ['unexpected token at 5', 5],
    ['syntax error at position 12: expected value', 12],
    ['Parse error (pos 3)', 3],
    ['error at offset 9.', 9],
    ['line 1, column 7: unexpected', 6],
    ['time range must be 24 hours at most', undefined],
    ['expected "}" at 17.', 17],
    // query/api's wording: FilterExpression: <msg> at position <byte offset>: `<expr with marker>`
    ['FilterExpression: expected "}", found end of expression at position 22: `service("api") { fault⟨here⟩`', 22],
  ])('errorPosition(%j) = %j', (msg, want) => {
    expect(errorPosition(msg)).toBe(want);
  });

  it('converts byte offsets', () => {
    expect(byteOffsetToIndex('abc', 2)).toBe(2);
    expect(byteOffsetToIndex('é😀x', 2)).toBe(1);
    expect(byteOffsetToIndex('é😀x', 6)).toBe(3);
    expect(byteOffsetToIndex('ab', 99)).toBe(2);
  });
});

function fakeFetch(handler: (url: string, init: RequestInit) => Response | Promise<Response>): FetchLike & { calls: { url: string; init: RequestInit }[] } {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = (async (url: string, init?: RequestInit) => {
    calls.push({ url, init: init ?? {} });
    return handler(url, init ?? {});
  }) as FetchLike & { calls: typeof calls };
  f.calls = calls;
  return f;
}

describe('xrayCall', () => {
  it('posts JSON and parses the answer', async () => {
    const f = fakeFetch(() => new Response('{"Services":[]}', { status: 200 }));
    const r = await xrayCall<{ Services: unknown[] }>('/ServiceGraph', { StartTime: 1, EndTime: 2 }, { fetch: f });
    expect(r.Services).toEqual([]);
    expect(f.calls[0]!.init.method).toBe('POST');
    expect(JSON.parse(f.calls[0]!.init.body as string)).toEqual({ StartTime: 1, EndTime: 2 });
    expect(await xrayCall('/x', {}, { fetch: fakeFetch(() => new Response('', { status: 200 })) })).toEqual({});
  });

  it('turns error responses, bad JSON and network failures into ApiError', async () => {
    const bad = fakeFetch(() => new Response('{"message":"expected a keyword at 0"}', { status: 400, headers: { 'X-Amzn-ErrorType': 'InvalidRequestException' } }));
    await expect(getTraceSummaries({ StartTime: 1, EndTime: 2, FilterExpression: '??' }, { fetch: bad })).rejects.toMatchObject({
      code: 'InvalidRequestException',
      position: 0,
    });
    await expect(xrayCall('/x', {}, { fetch: fakeFetch(() => new Response('{', { status: 200 })) })).rejects.toMatchObject({ code: 'SerializationException' });
    const down: FetchLike = async () => {
      throw new TypeError('Failed to fetch');
    };
    await expect(xrayCall('/x', {}, { fetch: down })).rejects.toMatchObject({ code: 'NetworkError', status: 0 });
    const aborted: FetchLike = async () => {
      throw new DOMException('aborted', 'AbortError');
    };
    await expect(xrayCall('/x', {}, { fetch: aborted })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('follows NextToken for the service graph and omits empty members', async () => {
    const f = fakeFetch((_, init) => {
      const body = JSON.parse(init.body as string) as { NextToken?: string };
      return new Response(JSON.stringify(body.NextToken ? { Services: [{ Name: 'b' }] } : { Services: [{ Name: 'a' }], NextToken: 'p2' }));
    });
    const r = await getServiceGraph({ StartTime: 1, EndTime: 2 }, { fetch: f });
    expect(r.Services!.map((s) => s.Name)).toEqual(['a', 'b']);
    const g = fakeFetch(() => new Response('{}'));
    await getTraceSummaries({ StartTime: 1, EndTime: 2, FilterExpression: '' }, { fetch: g });
    expect(JSON.parse(g.calls[0]!.init.body as string)).toEqual({ StartTime: 1, EndTime: 2 });
  });
});

describe('lambda client', () => {
  it('decodes the log tail', () => {
    const text = 'START RequestId: 1\nhéllo\nEND RequestId: 1\n';
    const b64 = Buffer.from(text, 'utf8').toString('base64');
    expect(decodeLogResult(b64)).toBe(text);
    expect(decodeLogResult('')).toBe('');
    expect(decodeLogResult('!!!')).toContain('undecodable');
  });

  it('makes X-Ray trace ids', () => {
    const id = newTraceId(0x6553f100 * 1000 + 123, () => 0.5);
    expect(id).toBe('1-6553f100-888888888888888888888888');
    expect(newTraceId(Date.now(), Math.random)).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
  });

  it('invokes through the proxy with the log tail and a trace header', async () => {
    const f = fakeFetch(() => new Response('{"ok":true}', {
      status: 200,
      headers: { 'X-Amz-Log-Result': Buffer.from('REPORT x').toString('base64'), 'X-Amz-Executed-Version': '$LATEST', 'X-Amz-Function-Error': 'Unhandled' },
    }));
    const r = await invokeFunction('my-fn', '{"a":1}', { fetch: f, now: () => 0x6553f100 * 1000, random: () => 0 });
    expect(f.calls[0]!.url).toBe('/lambda/2015-03-31/functions/my-fn/invocations');
    const h = new Headers(f.calls[0]!.init.headers as Record<string, string>);
    expect(h.get('X-Amz-Log-Type')).toBe('Tail');
    expect(h.get('X-Amzn-Trace-Id')).toBe('Root=1-6553f100-000000000000000000000000;Sampled=1');
    expect(r).toMatchObject({ payload: '{"ok":true}', log: 'REPORT x', functionError: 'Unhandled', executedVersion: '$LATEST', traceId: '1-6553f100-000000000000000000000000' });
    const nf = fakeFetch(() => new Response('{"Type":"User","message":"Function not found: x"}', { status: 404, headers: { 'X-Amzn-ErrorType': 'ResourceNotFoundException' } }));
    await expect(invokeFunction('x', '{}', { fetch: nf })).rejects.toMatchObject({ code: 'ResourceNotFoundException', message: 'Function not found: x' });
  });
});

describe('listFunctions', () => {
  it('pages with Marker and rejects non-JSON answers', async () => {
    const { listFunctions } = await import('./lambda');
    const f = fakeFetch((url) =>
      new Response(JSON.stringify(url.includes('Marker=m2') ? { Functions: [{ FunctionName: 'b' }] } : { Functions: [{ FunctionName: 'a' }], NextMarker: 'm2' })),
    );
    expect((await listFunctions({ fetch: f })).map((x) => x.FunctionName)).toEqual(['a', 'b']);
    expect(f.calls.map((c) => c.url)).toEqual(['/lambda/2015-03-31/functions', '/lambda/2015-03-31/functions?Marker=m2']);
    const html = fakeFetch(() => new Response('<!doctype html>', { status: 200 }));
    await expect(listFunctions({ fetch: html })).rejects.toMatchObject({ code: 'InvalidResponse' });
  });
});
