// Mock back-end for developing and for validating the e2e harness without the Go
// server: `FLUORO_MOCK=1 npx vite preview --config ui/vite.config.ts` (or `vite`)
// answers the X-Ray operations, the /lambda/ proxy and the /ws websocket with
// canned data from ui/test/fixtures. POST /__mock/emit pushes a new trace over
// the websocket (what the e2e "live" check triggers).
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import type { BatchGetTracesResult, GetServiceGraphResult, SegmentDoc, Service, TraceSummary } from '../../src/api/types';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const load = <T>(name: string): T => JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as T;

export const fixtureTraceId = '1-6553f100-0123456789abcdef01234567';
export const benchGroup = '__bench_200x400';
export const bigTraceId = '1-6553f100-b16b16b16b16b16b16b16b16';

interface MockState {
  summaries: TraceSummary[];
  sockets: Set<WsConn>;
  seq: WeakMap<WsConn, number>;
}

function hex(n: number): string {
  return randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
}

function makeSummaries(now: number): TraceSummary[] {
  const out: TraceSummary[] = [];
  const entries = [
    { name: 'api', type: 'AWS::EC2::Instance', url: 'http://api.example.com/orders', method: 'POST' },
    { name: 'api', type: 'AWS::EC2::Instance', url: 'http://api.example.com/orders/42', method: 'GET' },
    { name: 'backend', type: 'AWS::ECS::Container', url: 'http://backend:8080/pay', method: 'POST' },
  ];
  for (let i = 0; i < 30; i++) {
    const e = entries[i % entries.length]!;
    const start = now - 20 - i * 25;
    const fault = i % 7 === 3;
    const error = !fault && i % 5 === 1;
    const throttle = !fault && !error && i % 11 === 4;
    const status = fault ? 500 : throttle ? 429 : error ? 404 : 200;
    const services = [{ Name: e.name, Type: e.type }];
    if (e.name === 'api' && i % 2 === 0) services.push({ Name: 'backend', Type: 'AWS::ECS::Container' });
    out.push({
      Id: `1-${Math.floor(start).toString(16)}-${(i + 1).toString(16).padStart(24, '0')}`,
      StartTime: start,
      Duration: 0.02 + (i % 9) * 0.05,
      ResponseTime: 0.02 + (i % 9) * 0.045,
      HasFault: fault,
      HasError: error || throttle,
      HasThrottle: throttle,
      IsPartial: false,
      Http: { HttpURL: e.url, HttpStatus: status, HttpMethod: e.method, ClientIp: '10.0.0.9', UserAgent: 'curl/8.5' },
      EntryPoint: { Name: e.name, Type: e.type },
      ServiceIds: services,
    });
  }
  out.unshift({
    Id: fixtureTraceId,
    StartTime: 1700000000,
    Duration: 0.25,
    ResponseTime: 0.25,
    HasFault: true,
    HasError: false,
    HasThrottle: true,
    Http: { HttpURL: 'http://api.example.com/orders', HttpStatus: 500, HttpMethod: 'POST' },
    EntryPoint: { Name: 'api', Type: 'AWS::EC2::Instance' },
    ServiceIds: [
      { Name: 'api', Type: 'AWS::EC2::Instance' },
      { Name: 'backend', Type: 'AWS::ECS::Container' },
      { Name: 'notify', Type: 'AWS::Lambda::Function' },
    ],
  });
  return out;
}

/**
 * A toy evaluator for the mock: "", fault, error, throttle, ok, and
 * service("x") [{ fault|error|ok }]. Unbalanced brackets or quotes and unknown
 * words are reported like the real parser ("... at <byte offset>").
 */
export function mockFilter(expr: string): { match: (t: TraceSummary) => boolean } | { error: string } {
  const e = expr.trim();
  if (!e) return { match: () => true };
  const stack: string[] = [];
  let inStr = false;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '(' || c === '{') stack.push(c);
    else if (c === ')' || c === '}') {
      const open = stack.pop();
      if (open !== (c === ')' ? '(' : '{')) return { error: `unexpected "${c}" at ${Buffer.byteLength(expr.slice(0, i))}` };
    }
  }
  const len = Buffer.byteLength(expr);
  if (inStr) return { error: `unterminated string (missing closing '"') at ${len}` };
  if (stack.length) return { error: `expected "${stack.at(-1) === '(' ? ')' : '}'}", found end of expression at ${len}` };
  const flag = (t: TraceSummary, f: string) =>
    f === 'fault' ? !!t.HasFault : f === 'error' ? !!t.HasError && !t.HasThrottle : f === 'throttle' ? !!t.HasThrottle : !t.HasFault && !t.HasError;
  const simple = /^(fault|error|throttle|ok)$/i.exec(e);
  if (simple) return { match: (t) => flag(t, simple[1]!.toLowerCase()) };
  // id(name: "x", …) selectors and edge("a", "b") are reduced to service names.
  const e2 = e.replace(/id\(\s*name:\s*("(?:[^"\\]|\\.)*")[^)]*\)/g, '$1');
  const edge = /^edge\(\s*"([^"]*)"\s*,\s*"([^"]*)"\s*\)\s*(?:\{\s*(fault|error|throttle|ok)\s*\})?$/i.exec(e2);
  if (edge) {
    return { match: (t) => [edge[1], edge[2]].every((n) => (t.ServiceIds ?? []).some((s) => s.Name === n)) && (!edge[3] || flag(t, edge[3].toLowerCase())) };
  }
  const svc = /^service\("([^"]*)"\)\s*(?:\{\s*(fault|error|throttle|ok|root = true)\s*\})?$/i.exec(e2);
  if (svc) {
    return {
      match: (t) => {
        if (!(t.ServiceIds ?? []).some((s) => s.Name === svc[1])) return false;
        if (svc[2]?.startsWith('root')) return t.EntryPoint?.Name === svc[1];
        // The mock has no per-service outcome: it uses the trace's.
        return !svc[2] || flag(t, svc[2].toLowerCase());
      },
    };
  }
  const word = /^[^\s(){}"]+/.exec(e)?.[0] ?? e;
  return { error: `expected a keyword, found "${word}" at ${Buffer.byteLength(expr) - Buffer.byteLength(expr.trimStart())}` };
}

function bigTrace(): BatchGetTracesResult {
  const T = 1700000000;
  const subs: SegmentDoc[] = [];
  for (let i = 0; i < 100; i++) {
    const inner: SegmentDoc[] = [];
    for (let j = 0; j < 99; j++) {
      const s = T + i * 0.01 + j * 0.0001;
      inner.push({ id: `${i.toString(16).padStart(4, '0')}${j.toString(16).padStart(4, '0')}00000000`, name: `query-${j % 5}`, namespace: 'remote', start_time: s, end_time: s + 0.00008, fault: (i * 99 + j) % 501 === 0 });
    }
    subs.push({ id: `${i.toString(16).padStart(4, '0')}ffff00000000`, name: `batch-${i}`, start_time: T + i * 0.01, end_time: T + i * 0.01 + 0.0099, subsegments: inner });
  }
  const doc: SegmentDoc = { trace_id: bigTraceId, id: 'b16b16b16b16b16b', name: 'bulk-loader', origin: 'AWS::EC2::Instance', start_time: T, end_time: T + 1.0, subsegments: subs };
  return { Traces: [{ Id: bigTraceId, Duration: 1, Segments: [{ Id: doc.id!, Document: JSON.stringify(doc) }] }], UnprocessedTraceIds: [] };
}

function graphNow(): GetServiceGraphResult {
  const g = load<GetServiceGraphResult>('servicegraph.json');
  const end = Math.floor(Date.now() / 1000);
  for (const s of g.Services ?? []) {
    s.StartTime = end - 600;
    s.EndTime = end;
  }
  return { ...g, StartTime: end - 600, EndTime: end };
}

// ---- minimal websocket server (RFC 6455, text frames only) ----

class WsConn {
  private buf = Buffer.alloc(0);
  constructor(
    private readonly sock: Duplex,
    private readonly onText: (t: string) => void,
    private readonly onClose: () => void,
  ) {
    sock.on('data', (d: Buffer) => this.read(d));
    sock.on('close', onClose);
    sock.on('error', () => sock.destroy());
  }

  send(text: string): void {
    const payload = Buffer.from(text, 'utf8');
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([0x81, 127]), u64(n)]);
    this.sock.write(Buffer.concat([head, payload]));
  }

  close(): void {
    this.sock.end(Buffer.from([0x88, 0]));
  }

  private read(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const op = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      const masked = (this.buf[1]! & 0x80) !== 0;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (this.buf.length < off + len) return;
      const data = Buffer.from(this.buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < data.length; i++) data[i]! ^= this.buf[maskOff + (i % 4)]!;
      this.buf = this.buf.subarray(off + len);
      if (op === 0x1) this.onText(data.toString('utf8'));
      else if (op === 0x8) {
        this.close();
        this.onClose();
        return;
      } else if (op === 0x9) this.sock.write(Buffer.concat([Buffer.from([0x8a, data.length]), data]));
    }
  }
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function attachWs(server: Server, state: MockState): void {
  server.on('upgrade', (req: IncomingMessage, sock: Duplex) => {
    if (!req.url || new URL(req.url, 'http://x').pathname !== '/ws') return;
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string') {
      sock.destroy();
      return;
    }
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const conn: WsConn = new WsConn(
      sock,
      () => {
        // Subscriptions are accepted as they are; the mock sends everything.
      },
      () => state.sockets.delete(conn),
    );
    state.sockets.add(conn);
    state.seq.set(conn, 0);
  });
}

function broadcast(state: MockState, type: string, data: unknown): void {
  for (const c of state.sockets) {
    const seq = (state.seq.get(c) ?? 0) + 1;
    state.seq.set(c, seq);
    c.send(JSON.stringify({ type, seq, data }));
  }
}

// ---- HTTP ----

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res: ServerResponse, status: number, v: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(v));
}

function xrayError(res: ServerResponse, message: string): void {
  json(res, 400, { __type: 'InvalidRequestException', message }, { 'X-Amzn-ErrorType': 'InvalidRequestException' });
}

type Next = (err?: unknown) => void;

function handler(state: MockState) {
  const traceGraph = (): Service[] => graphNow().Services!;
  return async (req: IncomingMessage, res: ServerResponse, next: Next) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname;
    try {
      if (req.method === 'POST' && p === '/ServiceGraph') {
        const r = JSON.parse((await body(req)) || '{}') as { GroupName?: string };
        // The benchmark graph (200 nodes, 400 edges) for the e2e --bench run.
        if (r.GroupName === benchGroup) return json(res, 200, load<GetServiceGraphResult>('graph-200x400.json'));
        return json(res, 200, graphNow());
      }
      if (req.method === 'POST' && p === '/TimeSeriesServiceStatistics') {
        const r = JSON.parse((await body(req)) || '{}') as { StartTime?: number; EndTime?: number; Period?: number; EntitySelectorExpression?: string };
        const period = r.Period ?? 60;
        const start = Math.floor((r.StartTime ?? 0) / period) * period;
        const points = [];
        for (let t = start, i = 0; t < (r.EndTime ?? 0); t += period, i++) {
          const ok = 5 + ((i * 7) % 11);
          const fault = i % 4 === 1 ? 2 : 0;
          const stats = { OkCount: ok, TotalCount: ok + fault, FaultStatistics: { TotalCount: fault, OtherCount: fault }, ErrorStatistics: { TotalCount: 0 }, TotalResponseTime: ok * 0.05 };
          points.push(r.EntitySelectorExpression?.startsWith('edge(') ? { Timestamp: t, EdgeSummaryStatistics: stats } : { Timestamp: t, ServiceSummaryStatistics: stats });
        }
        return json(res, 200, { TimeSeriesServiceStatistics: points, ContainsOldGroupVersions: false });
      }
      if (req.method === 'POST' && p === '/Groups') {
        return json(res, 200, { Groups: [{ GroupName: 'Default' }, { GroupName: 'faults', FilterExpression: 'fault' }] });
      }
      if (req.method === 'POST' && p === '/TraceSummaries') {
        const r = JSON.parse((await body(req)) || '{}') as { FilterExpression?: string; NextToken?: string; StartTime?: number; EndTime?: number };
        if (typeof r.StartTime !== 'number' || typeof r.EndTime !== 'number') return xrayError(res, 'StartTime and EndTime are required');
        const f = mockFilter(r.FilterExpression ?? '');
        if ('error' in f) return xrayError(res, `invalid filter expression: ${f.error}`);
        const all = state.summaries.filter(f.match);
        const from = r.NextToken ? Number(r.NextToken) : 0;
        const page = all.slice(from, from + 20);
        return json(res, 200, {
          TraceSummaries: page,
          ApproximateTime: r.EndTime,
          TracesProcessedCount: page.length,
          ...(from + 20 < all.length ? { NextToken: String(from + 20) } : {}),
        });
      }
      if (req.method === 'POST' && p === '/Traces') {
        const r = JSON.parse((await body(req)) || '{}') as { TraceIds?: string[] };
        const ids = r.TraceIds ?? [];
        if (ids.includes(bigTraceId)) return json(res, 200, bigTrace());
        const fx = load<BatchGetTracesResult>('batchgettraces.json');
        return json(res, 200, {
          Traces: ids.includes(fixtureTraceId) ? fx.Traces : [],
          UnprocessedTraceIds: ids.filter((x) => x !== fixtureTraceId),
        });
      }
      if (req.method === 'POST' && p === '/TraceGraph') {
        await body(req);
        return json(res, 200, { Services: traceGraph() });
      }
      if (req.method === 'POST' && p === '/__mock/emit') {
        const now = Date.now() / 1000;
        const t: TraceSummary = {
          Id: `1-${Math.floor(now).toString(16)}-${hex(24)}`,
          StartTime: now,
          Duration: 0.042,
          ResponseTime: 0.04,
          HasFault: false,
          HasError: false,
          HasThrottle: false,
          Http: { HttpURL: 'http://api.example.com/live', HttpStatus: 200, HttpMethod: 'GET' },
          EntryPoint: { Name: 'api', Type: 'AWS::EC2::Instance' },
          ServiceIds: [{ Name: 'api', Type: 'AWS::EC2::Instance' }],
        };
        state.summaries.unshift(t);
        broadcast(state, 'trace.summary', t);
        broadcast(state, 'graph.delta', {
          StartTime: now - 1,
          EndTime: now,
          Services: [
            { ReferenceId: 1, Name: 'api', Type: 'AWS::EC2::Instance', AccountId: '123456789012', SummaryStatistics: { OkCount: 1, TotalCount: 1, TotalResponseTime: 0.04 } },
          ],
        });
        return json(res, 200, { TraceId: t.Id });
      }
      if (p.startsWith('/lambda/')) return lambda(req, res, p.slice('/lambda'.length));
    } catch (e) {
      return json(res, 500, { message: String(e) });
    }
    next();
  };
}

async function lambda(req: IncomingMessage, res: ServerResponse, p: string): Promise<void> {
  if (req.method === 'GET' && p === '/2015-03-31/functions') {
    return json(res, 200, {
      Functions: [
        { FunctionName: 'hello', Runtime: 'provided.al2023', MemorySize: 128, Timeout: 3, TracingConfig: { Mode: 'Active' } },
        { FunctionName: 'fails', Runtime: 'python3.12', MemorySize: 256, Timeout: 10, TracingConfig: { Mode: 'PassThrough' } },
      ],
    });
  }
  const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(p);
  if (req.method === 'POST' && m) {
    const name = decodeURIComponent(m[1]!);
    const payload = await body(req);
    const trace = String(req.headers['x-amzn-trace-id'] ?? '');
    if (name !== 'hello' && name !== 'fails') {
      return json(res, 404, { Type: 'User', message: `Function not found: arn:aws:lambda:us-east-1:000000000000:function:${name}` }, { 'X-Amzn-ErrorType': 'ResourceNotFoundException' });
    }
    const log = `START RequestId: 0f1e Version: $LATEST\nreceived ${payload.length} bytes (${trace})\nEND RequestId: 0f1e\nREPORT RequestId: 0f1e\tDuration: 1.23 ms\n`;
    const headers: Record<string, string> = {
      'X-Amz-Executed-Version': '$LATEST',
      'X-Amz-Log-Result': Buffer.from(log).toString('base64'),
      'Content-Type': 'application/json',
    };
    if (name === 'fails') {
      headers['X-Amz-Function-Error'] = 'Unhandled';
      res.writeHead(200, headers);
      return void res.end(JSON.stringify({ errorType: 'Runtime.ExitError', errorMessage: 'exit status 1' }));
    }
    res.writeHead(200, headers);
    return void res.end(JSON.stringify({ echo: JSON.parse(payload || 'null') }));
  }
  json(res, 404, { message: 'unknown route' });
}

export function mockPlugin(): Plugin {
  const state: MockState = { summaries: makeSummaries(Date.now() / 1000), sockets: new Set(), seq: new WeakMap() };
  return {
    name: 'fluoro-mock-backend',
    configureServer(server) {
      server.middlewares.use(handler(state));
      if (server.httpServer) attachWs(server.httpServer as Server, state);
    },
    configurePreviewServer(server) {
      server.middlewares.use(handler(state));
      attachWs(server.httpServer as Server, state);
    },
  };
}
