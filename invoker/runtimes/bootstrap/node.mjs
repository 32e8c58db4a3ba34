// Fluoro's bootstrap for the Lambda Node.js managed runtimes (nodejs18.x and
// later). It is a Runtime API 2018-06-01 client written from the public
// contract, with no npm dependencies, and behaves toward handlers like AWS's
// Node.js runtime: `file.export` handlers (CommonJS .js/.cjs, ES modules .mjs
// or .js under "type": "module"), async handlers and callback handlers
// (event, context, callback), the AWS context object, console log lines
// prefixed with timestamp, request id and level, errors reported as
// {"errorType","errorMessage","trace"} with the X-Ray error cause header.
//
// Environment it reads: AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT
// (default: working directory), AWS_LAMBDA_FUNCTION_NAME,
// AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
// AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME,
// AWS_LAMBDA_LOG_FORMAT (Text|JSON), AWS_LAMBDA_LOG_LEVEL.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const XRAY_CAUSE_HEADER = 'Lambda-Runtime-Function-XRay-Error-Cause';
const MAX_XRAY_CAUSE = 1024 * 1024;
const USER_AGENT = `fluoro-lambda-nodejs/${process.versions.node}`;

// ---------------------------------------------------------------------------
// Runtime errors (names as AWS's Node runtime reports them).

class RuntimeError extends Error {}
function runtimeErrorClass(reason) {
  const C = class extends RuntimeError {};
  Object.defineProperty(C, 'name', { value: reason });
  C.prototype.name = `Runtime.${reason}`;
  return C;
}
const ImportModuleError = runtimeErrorClass('ImportModuleError');
const HandlerNotFound = runtimeErrorClass('HandlerNotFound');
const MalformedHandlerName = runtimeErrorClass('MalformedHandlerName');
const UserCodeSyntaxError = runtimeErrorClass('UserCodeSyntaxError');
const UnhandledPromiseRejection = runtimeErrorClass('UnhandledPromiseRejection');
const NodeJsExit = runtimeErrorClass('NodeJsExit');

function isErrorLike(e) {
  return (
    e != null &&
    (util.types.isNativeError(e) ||
      (typeof e.name === 'string' && typeof e.message === 'string' && typeof e.stack === 'string'))
  );
}

// toRapidResponse converts anything thrown or passed to a callback into the
// error document posted to the Runtime API.
function toRapidResponse(error) {
  try {
    if (isErrorLike(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

// xrayCause renders the X-Ray "cause" object for an error; the header value
// is ASCII-only JSON.
function xrayCause(error) {
  try {
    const stack = [];
    if (isErrorLike(error)) {
      const lines = error.stack.split('\n').slice(1);
      for (const raw of lines) {
        let line = raw.trim();
        if (!line.startsWith('at ')) continue;
        line = line.slice(3).replace(/[()]/g, '');
        const sp = line.lastIndexOf(' ');
        const label = sp >= 0 ? line.slice(0, sp) : '';
        let loc = sp >= 0 ? line.slice(sp + 1) : line;
        if (loc.startsWith('file://')) loc = loc.slice(7);
        const m = /^(.*?):(\d+)(?::\d+)?$/.exec(loc);
        stack.push({
          path: m ? m[1] : loc,
          line: m ? parseInt(m[2], 10) : 0,
          label: label || 'anonymous',
        });
      }
    }
    const paths = [...new Set(stack.map((s) => s.path))];
    const doc = {
      working_directory: process.cwd(),
      exceptions: [
        {
          type: isErrorLike(error) ? error.name : typeof error,
          message: isErrorLike(error) ? error.message : String(error),
          stack,
        },
      ],
      paths,
    };
    return JSON.stringify(doc).replace(
      /[\u007f-\uffff]/g,
      (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
    );
  } catch (_) {
    return '';
  }
}

// ---------------------------------------------------------------------------
// Console patch: `<ISO time>\t<request id>\t<LEVEL>\t<message>` (or JSON).

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const LEVELS = {
  TRACE: 1,
  DEBUG: 2,
  INFO: 3,
  WARN: 4,
  ERROR: 5,
  FATAL: 6,
};
const jsonLogs = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

function errorReplacer(_k, v) {
  if (v instanceof Error) {
    return Object.assign(
      {
        errorType: v?.constructor?.name ?? 'UnknownError',
        errorMessage: v.message,
        stackTrace: typeof v.stack === 'string' ? v.stack.split('\n') : v.stack,
      },
      v,
    );
  }
  return v;
}

function formatLine(level, params) {
  const time = new Date().toISOString();
  const requestId = globalThis[REQUEST_ID];
  if (!jsonLogs) {
    return `${time}\t${requestId}\t${level}\t${util.format(...params)}`.replace(/\n/g, '\r');
  }
  const rec = { timestamp: time, level, requestId };
  if (params.length === 1) {
    rec.message = params[0];
    try {
      return JSON.stringify(rec, errorReplacer).replace(/\n/g, '\r');
    } catch (_) {
      rec.message = util.format(params[0]);
      return JSON.stringify(rec);
    }
  }
  rec.message = util.format(...params);
  const err = params.find((p) => p instanceof Error);
  if (err) {
    rec.errorType = err?.constructor?.name ?? 'UnknownError';
    rec.errorMessage = err.message;
    rec.stackTrace = typeof err.stack === 'string' ? err.stack.split('\n') : [];
  }
  return JSON.stringify(rec).replace(/\n/g, '\r');
}

function patchConsole() {
  const min = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.TRACE;
  const make = (level) =>
    LEVELS[level] >= min || level === 'FATAL'
      ? (...params) => process.stdout.write(formatLine(level, params) + '\n')
      : () => {};
  console.trace = make('TRACE');
  console.debug = make('DEBUG');
  console.info = make('INFO');
  console.log = console.info;
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.fatal = make('FATAL');
}

function withEnumerable(_k, v) {
  if (v instanceof Error) {
    const r = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
    if (typeof v.stack === 'string') r.stack = v.stack.split('\n');
    return r;
  }
  return v;
}

function logError(title, err) {
  if (jsonLogs) {
    console.error(err instanceof Error ? err : new Error(String(err)));
    return;
  }
  let formatted;
  try {
    formatted = '\t' + JSON.stringify(err instanceof Error ? err : new Error(String(err)), withEnumerable);
  } catch (_) {
    formatted = '\t' + JSON.stringify(toRapidResponse(err));
  }
  console.error(title, formatted);
}

// ---------------------------------------------------------------------------
// Runtime API client: one keep-alive connection, like AWS's client.

function apiAddress() {
  const addr = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!addr) {
    process.stderr.write('fluoro bootstrap: AWS_LAMBDA_RUNTIME_API is not set\n');
    process.exit(1);
  }
  const i = addr.lastIndexOf(':');
  let host = i > 0 ? addr.slice(0, i) : addr;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: i > 0 ? parseInt(addr.slice(i + 1), 10) : 80 };
}

const { host: API_HOST, port: API_PORT } = apiAddress();
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const hdrs = Object.assign({ 'User-Agent': USER_AGENT }, headers || {});
    if (body !== undefined) hdrs['Content-Length'] = Buffer.byteLength(body);
    const req = http.request(
      { host: API_HOST, port: API_PORT, path: API_PREFIX + urlPath, method, headers: hdrs, agent },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// post sends a result, retrying once on a stale keep-alive connection.
async function post(urlPath, body, headers) {
  let res;
  try {
    res = await call('POST', urlPath, body, headers);
  } catch (e) {
    if (e && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
      res = await call('POST', urlPath, body, headers);
    } else {
      throw e;
    }
  }
  if (res.status >= 500) {
    fatal(`Runtime API ${urlPath} answered ${res.status}: ${res.body.toString()}`);
  }
  if (res.status !== 202) {
    process.stderr.write(
      `fluoro bootstrap: Runtime API ${urlPath} answered ${res.status}: ${res.body.toString()}\n`,
    );
  }
  return res;
}

async function nextInvocation() {
  let res;
  try {
    res = await call('GET', '/invocation/next');
  } catch (e) {
    if (e && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
      res = await call('GET', '/invocation/next');
    } else {
      throw e;
    }
  }
  if (res.status !== 200) {
    fatal(`Runtime API /invocation/next answered ${res.status}: ${res.body.toString()}`);
  }
  return res;
}

function fatal(msg) {
  process.stderr.write(`fluoro bootstrap: ${msg}\n`);
  process.exit(1);
}

function serialize(value) {
  try {
    return JSON.stringify(value === undefined ? null : value);
  } catch (_) {
    throw new Error('Unable to stringify response body');
  }
}

// headerValue keeps a header value within printable ASCII.
function headerValue(v) {
  return String(v).replace(/[^\x20-\x7e]/g, '?');
}

function postInitError(error) {
  const response = toRapidResponse(error);
  return post('/init/error', JSON.stringify(response), {
    'Content-Type': 'application/json',
    [ERROR_TYPE_HEADER]: headerValue(response.errorType),
  });
}

function postInvocationError(id, error) {
  const response = toRapidResponse(error);
  const headers = {
    'Content-Type': 'application/json',
    [ERROR_TYPE_HEADER]: headerValue(response.errorType),
  };
  const cause = xrayCause(error);
  if (cause && cause.length < MAX_XRAY_CAUSE) headers[XRAY_CAUSE_HEADER] = cause;
  return post(`/invocation/${encodeURIComponent(id)}/error`, JSON.stringify(response), headers);
}

function postInvocationResponse(id, result) {
  let body;
  try {
    body = serialize(result);
  } catch (e) {
    return postInvocationError(id, e);
  }
  return post(`/invocation/${encodeURIComponent(id)}/response`, body, {
    'Content-Type': 'application/json',
  });
}

// ---------------------------------------------------------------------------
// Handler loading.

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');

globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[HANDLER_STREAMING] = 'response';
    if (options && typeof options.highWaterMark === 'number') {
      handler[Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark')] = options.highWaterMark;
    }
    return handler;
  },
  HttpResponseStream: {
    from(stream, prelude) {
      stream.setContentType('application/vnd.awslambda.http-integration-response');
      stream.write(JSON.stringify(prelude));
      stream.write(new Uint8Array(8));
      return stream;
    },
  },
};

function packageTypeIsModule(dir) {
  for (;;) {
    if (dir.endsWith(`${path.sep}node_modules`)) return false;
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
      } catch (_) {
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

const require_ = createRequire(import.meta.url);

function tryRequire(file) {
  return fs.existsSync(file) && fs.statSync(file).isFile() ? require_(file) : undefined;
}

async function tryImport(file) {
  return fs.existsSync(file) ? import(pathToFileURL(file).href) : undefined;
}

async function loadModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  const extensionless = tryRequire(base);
  if (extensionless) return extensionless;
  const esm = packageTypeIsModule(path.dirname(base));
  if (!esm) {
    const cjs = tryRequire(base + '.js');
    if (cjs) return cjs;
  }
  const loaded =
    (esm && (await tryImport(base + '.js'))) ||
    (await tryImport(base + '.mjs')) ||
    tryRequire(base + '.cjs');
  if (loaded) return loaded;
  const resolved = require_.resolve(moduleName, { paths: [appRoot, path.resolve(appRoot, moduleRoot)] });
  return require_(resolved);
}

async function loadHandler(appRoot, fullHandler) {
  if (!fullHandler) {
    throw new MalformedHandlerName('Bad handler: _HANDLER is empty');
  }
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const m = /^([^.]*)\.(.*)$/.exec(handlerString);
  if (!m) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, handlerPath] = m;
  let app;
  try {
    app = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(String(e));
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      const err = new ImportModuleError(String(e));
      throw err;
    }
    throw e;
  }
  const fn = handlerPath.split('.').reduce((o, k) => o && o[k], app);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn;
}

// ---------------------------------------------------------------------------
// Invocation loop.

// beforeExit fires when the event loop is empty: callback handlers that
// leave callbackWaitsForEmptyEventLoop=true get their result posted then.
let onEmptyLoop = null;
process.on('beforeExit', () => {
  const fn = onEmptyLoop;
  onEmptyLoop = null;
  if (fn) fn();
});

// Error callbacks for uncaught errors: during init they become init errors,
// during an invocation they fail that invocation; the process then exits as
// AWS's runtime does (129 uncaught exception, 128 unhandled rejection).
let onUncaught = (err, code) => {
  postInitError(err).finally(() => process.exit(code));
};
process.on('uncaughtException', (err) => {
  logError('Uncaught Exception', err);
  onUncaught(err, 129);
});
process.on('unhandledRejection', (reason) => {
  const err = new UnhandledPromiseRejection(
    reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason),
  );
  err.reason = reason;
  logError('Unhandled Promise Rejection', err);
  onUncaught(err, 128);
});

function parseJSONHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (e) {
    throw new Error(`Cannot parse ${name} as json: ${e.toString()}`);
  }
}

// invokeOnce runs one invocation and resolves once its outcome was posted.
function invokeOnce(handler, isAsync, res) {
  const h = res.headers;
  const id = h['lambda-runtime-aws-request-id'];
  if (!id) fatal('invocation without Lambda-Runtime-Aws-Request-Id');
  globalThis[REQUEST_ID] = id;
  if (h['lambda-runtime-trace-id']) {
    process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }

  return new Promise((resolve) => {
    let finished = false; // first callback/succeed/fail/done wins
    let posted = false;
    const finish = (p) => {
      posted = true;
      onEmptyLoop = null;
      p.then(resolve, (e) => fatal(`cannot reach the Runtime API: ${e}`));
    };
    const postError = (err) => {
      logError('Invoke Error', err);
      finish(postInvocationError(id, err));
    };
    const complete = (result) => {
      if (!posted) finish(postInvocationResponse(id, result));
    };
    let waitForEmptyEventLoop = true;

    const once = (fn) =>
      function (...args) {
        if (finished) return;
        finished = true;
        fn(...args);
      };
    const done = once((err, result) => {
      onEmptyLoop = null;
      if (err !== undefined && err !== null) postError(err);
      else complete(result);
    });
    const callback = once((err, result) => {
      onEmptyLoop = null;
      if (err !== undefined && err !== null) {
        postError(err);
      } else if (!waitForEmptyEventLoop) {
        complete(result);
      } else {
        onEmptyLoop = () => setImmediate(() => complete(result));
      }
    });
    const succeed = (result) => done(null, result);
    const fail = (err) => done(err === undefined || err === null ? 'handled' : err, null);

    onUncaught = (err, code) => {
      finished = true;
      posted = true;
      postInvocationError(id, err).finally(() => process.exit(code));
    };
    // Neither callback nor promise settled before the loop emptied.
    onEmptyLoop = () => {
      if (finished) return;
      finished = true;
      if (isAsync) {
        const err = new NodeJsExit(
          'The handler returned a Promise that never settled and the event loop is empty.',
        );
        postError(err);
      } else {
        complete(null);
      }
    };

    const deadline = Number(h['lambda-runtime-deadline-ms']);
    try {
      const context = {
        get callbackWaitsForEmptyEventLoop() {
          return waitForEmptyEventLoop;
        },
        set callbackWaitsForEmptyEventLoop(v) {
          waitForEmptyEventLoop = v;
        },
        succeed,
        fail,
        done,
        functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
        functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
        memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
        clientContext: parseJSONHeader(h['lambda-runtime-client-context'], 'ClientContext'),
        identity: parseJSONHeader(h['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
        invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
        awsRequestId: id,
        tenantId: h['lambda-runtime-aws-tenant-id'],
        getRemainingTimeInMillis() {
          return deadline - Date.now();
        },
      };
      const event = JSON.parse(res.body.toString('utf8'));
      const result = handler(event, context, callback);
      if (result && typeof result.then === 'function') {
        result.then(succeed, fail);
      }
    } catch (err) {
      callback(err);
    }
  });
}

// invokeStreaming runs a handler wrapped by awslambda.streamifyResponse:
// handler(event, responseStream, context). The response is POSTed in
// streaming mode (chunked, lambda.md §1.5) as the handler writes; an error
// after the stream started travels in the trailers
// Lambda-Runtime-Function-Error-Type / Lambda-Runtime-Function-Error-Body.
async function invokeStreaming(handler, res) {
  const h = res.headers;
  const id = h['lambda-runtime-aws-request-id'];
  if (!id) fatal('invocation without Lambda-Runtime-Aws-Request-Id');
  globalThis[REQUEST_ID] = id;
  if (h['lambda-runtime-trace-id']) {
    process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  const req = http.request({
    host: API_HOST,
    port: API_PORT,
    path: `${API_PREFIX}/invocation/${encodeURIComponent(id)}/response`,
    method: 'POST',
    agent,
    headers: {
      'User-Agent': USER_AGENT,
      'Content-Type': 'application/octet-stream',
      'Lambda-Runtime-Function-Response-Mode': 'streaming',
      'Transfer-Encoding': 'chunked',
      Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
    },
  });
  const answered = new Promise((resolve, reject) => {
    req.on('response', (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
  let started = false;
  const write = req.write.bind(req);
  req.write = (...args) => {
    started = true;
    return write(...args);
  };
  req.setContentType = (ct) => {
    if (started) throw new Error('Cannot set content-type, too late.');
    req.setHeader('Content-Type', ct);
  };
  const fail = (err) => {
    logError('Invoke Error', err);
    if (req.writableEnded) return;
    const body = Buffer.from(JSON.stringify(toRapidResponse(err))).toString('base64');
    req.addTrailers({
      'Lambda-Runtime-Function-Error-Type': headerValue(toRapidResponse(err).errorType),
      'Lambda-Runtime-Function-Error-Body': body,
    });
    req.end();
  };
  onUncaught = (err, code) => {
    fail(err);
    answered.finally(() => process.exit(code));
  };
  onEmptyLoop = null;
  const deadline = Number(h['lambda-runtime-deadline-ms']);
  try {
    const context = {
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: parseJSONHeader(h['lambda-runtime-client-context'], 'ClientContext'),
      identity: parseJSONHeader(h['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
      awsRequestId: id,
      tenantId: h['lambda-runtime-aws-tenant-id'],
      getRemainingTimeInMillis() {
        return deadline - Date.now();
      },
    };
    const event = JSON.parse(res.body.toString('utf8'));
    const result = handler(event, req, context);
    if (!result || typeof result.then !== 'function') {
      fail(new Error('Streaming does not support non-async handlers.'));
    } else {
      await result;
      if (!req.writableEnded) fail(new Error('Response stream is not finished.'));
    }
  } catch (err) {
    fail(err);
  }
  const out = await answered.catch((e) => fatal(`cannot reach the Runtime API: ${e}`));
  if (out.status >= 500) fatal(`Runtime API streamed response answered ${out.status}: ${out.body}`);
}

async function main() {
  patchConsole();
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let handler;
  try {
    handler = await loadHandler(appRoot, process.env._HANDLER || '');
  } catch (err) {
    logError('Init Error', err);
    await postInitError(err).catch(() => {});
    process.exit(129);
  }
  const isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
  const streaming = handler[HANDLER_STREAMING] === 'response';
  for (;;) {
    const res = await nextInvocation();
    if (streaming) await invokeStreaming(handler, res);
    else await invokeOnce(handler, isAsync, res);
  }
}

main().catch((e) => fatal(`runtime loop failed: ${e && e.stack ? e.stack : e}`));
