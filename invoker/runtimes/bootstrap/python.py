"""Fluoro's bootstrap for the Lambda Python managed runtimes (python3.x).

A Runtime API 2018-06-01 client written from the public contract, using the
standard library only. Toward handlers it behaves like AWS's Python runtime:
`module.function` handlers (`package/module.function` and dotted modules
too), the LambdaContext object with the same attributes, the logging format
`[LEVEL]\t<time>Z\t<request id>\t<message>`, error documents
{"errorMessage","errorType","requestId","stackTrace"} and the X-Ray error
cause header.

Environment it reads: AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT
(default: working directory), AWS_LAMBDA_FUNCTION_NAME,
AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME, AWS_EXECUTION_ENV,
AWS_LAMBDA_LOG_FORMAT (Text|JSON), AWS_LAMBDA_LOG_LEVEL.
"""

import decimal
import importlib
import json
import logging
import math
import os
import socket
import sys
import time
import traceback

API_PREFIX = "/2018-06-01/runtime"
MAX_XRAY_CAUSE = 1024 * 1024
ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"
USER_AGENT = "fluoro-lambda-python/%d.%d.%d" % sys.version_info[:3]
BOOTSTRAP_FILE = os.path.abspath(__file__)


class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


# ---------------------------------------------------------------------------
# JSON marshalling (Decimal support, ensure_ascii as AWS's runtimes do).


def _ensure_ascii():
    env = os.environ.get("AWS_EXECUTION_ENV", "")
    prefix = "AWS_Lambda_python3."
    if env.startswith(prefix):
        try:
            return int(env[len(prefix):]) < 12
        except ValueError:
            return True
    return True


class _Encoder(json.JSONEncoder):
    def default(self, obj):
        if isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return math.nan
            if obj == obj.to_integral_value():
                return int(obj)
            return float(obj)
        return super().default(obj)


_ENCODER = _Encoder(ensure_ascii=_ensure_ascii())


def to_json(obj):
    return _ENCODER.encode(obj)


def unmarshal_request(body, content_type):
    if content_type not in (None, "", "application/json"):
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise FaultException(
            FaultException.UNMARSHAL_ERROR,
            "Unable to unmarshal input: {}".format(str(e)),
            None,
        )


def marshal_response(response):
    if isinstance(response, bytes):
        return response, "application/unknown"
    try:
        return to_json(response).encode("utf-8"), "application/json"
    except Exception as e:
        raise FaultException(
            FaultException.MARSHAL_ERROR,
            "Unable to marshal response: {}".format(str(e)),
            None,
        )


# ---------------------------------------------------------------------------
# Runtime API client over one keep-alive connection. A minimal HTTP/1.1
# client on a socket: http.client would import the email package (and, via
# it, much more), which costs tens of milliseconds on every cold start.


class _Response(object):
    __slots__ = ["status", "headers"]

    def __init__(self, status, headers):
        self.status = status
        self.headers = headers

    def getheader(self, name):
        return self.headers.get(name.lower())


class _Disconnected(Exception):
    pass


class RuntimeClient(object):
    def __init__(self, address):
        host, sep, port = address.rpartition(":")
        if not sep:
            host, port = address, "80"
        self.host = host.strip("[]")
        self.port = int(port)
        self.sock = None
        self.rfile = None

    def _connect(self):
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.rfile = self.sock.makefile("rb")

    def _close(self):
        if self.sock is not None:
            try:
                self.rfile.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.rfile = None

    def _roundtrip(self, method, path, body, headers):
        lines = ["%s %s%s HTTP/1.1" % (method, API_PREFIX, path), "Host: %s:%d" % (self.host, self.port),
                 "User-Agent: " + USER_AGENT]
        for k, v in headers.items():
            lines.append("%s: %s" % (k, v))
        if body is not None:
            lines.append("Content-Length: %d" % len(body))
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.sock.sendall(head + body if body is not None and len(body) < 65536 else head)
        if body is not None and len(body) >= 65536:
            self.sock.sendall(body)
        status_line = self.rfile.readline(65537)
        if not status_line:
            raise _Disconnected()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise OSError("bad status line %r" % status_line)
        status = int(parts[1])
        hdrs = {}
        while True:
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            hdrs[name.strip().lower()] = value.strip()
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline(65537).split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            data = b"".join(chunks)
        elif "content-length" in hdrs:
            n = int(hdrs["content-length"])
            data = self.rfile.read(n)
            if len(data) != n:
                raise _Disconnected()
        else:
            data = self.rfile.read()
            self._close()
        if hdrs.get("connection", "").lower() == "close":
            self._close()
        return _Response(status, hdrs), data

    def _call(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            self._connect()
            try:
                return self._roundtrip(method, path, body, headers or {})
            except (_Disconnected, ConnectionResetError, BrokenPipeError):
                self._close()
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")

    def next(self):
        resp, data = self._call("GET", "/invocation/next")
        if resp.status != 200:
            fatal(
                "Runtime API /invocation/next answered %d: %r" % (resp.status, data)
            )
        return resp, data

    def _post(self, path, body, headers):
        resp, data = self._call("POST", path, body, headers)
        if resp.status >= 500:
            fatal("Runtime API %s answered %d: %r" % (path, resp.status, data))
        if resp.status != 202:
            sys.stderr.write(
                "fluoro bootstrap: Runtime API %s answered %d: %r\n"
                % (path, resp.status, data)
            )

    def post_result(self, invoke_id, body, content_type):
        self._post(
            "/invocation/%s/response" % _quote(invoke_id),
            body,
            {"Content-Type": content_type},
        )

    def post_error(self, invoke_id, error_result, xray_cause):
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Function-Error-Type": _header_value(error_result.get("errorType") or "Unhandled"),
        }
        cause = json.dumps(xray_cause, ensure_ascii=True)
        if len(cause) < MAX_XRAY_CAUSE:
            headers["Lambda-Runtime-Function-XRay-Error-Cause"] = cause
        self._post(
            "/invocation/%s/error" % _quote(invoke_id),
            to_json(error_result).encode("utf-8"),
            headers,
        )

    def post_init_error(self, error_result):
        self._post(
            "/init/error",
            to_json(error_result).encode("utf-8"),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Function-Error-Type": _header_value(error_result.get("errorType") or "Unhandled"),
            },
        )


_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _quote(s):
    return "".join(c if c in _SAFE else "".join("%%%02X" % b for b in c.encode("utf-8")) for c in s)


def _header_value(s):
    return "".join(c if " " <= c <= "~" else "?" for c in str(s))


def fatal(msg):
    sys.stderr.write("fluoro bootstrap: %s\n" % msg)
    sys.stderr.flush()
    os._exit(1)


# ---------------------------------------------------------------------------
# Context object (same attributes as AWS's awslambdaric LambdaContext).


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return (
            "Client([installation_id=%s,app_title=%s,app_version_name=%s,"
            "app_version_code=%s,app_package_name=%s])"
            % tuple(getattr(self, s) for s in self.__slots__)
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "ClientContext([custom=%s,env=%s,client=%s])" % (
            self.custom,
            self.env,
            self.client,
        )


def make_obj_from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, d.get(field, None))
    return obj


class LambdaContext(object):
    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        self.aws_request_id = invoke_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = make_obj_from_dict(
                Client, self.client_context.client
            )
        self.identity = make_obj_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get(
                "cognitoIdentityPoolId"
            )
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        delta = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta if delta > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
            "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
            "invoked_function_arn=%s,client_context=%s,identity=%s,tenant_id=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


# ---------------------------------------------------------------------------
# Errors.


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def make_xray_cause(ex_type, ex_msg, working_dir, tb_tuples):
    stack = []
    files = []
    for tb_file, tb_line, tb_method, _code in tb_tuples:
        stack.append({"label": tb_method, "path": tb_file, "line": tb_line})
        if tb_file not in files:
            files.append(tb_file)
    return {
        "working_directory": working_dir,
        "exceptions": [{"message": ex_msg, "type": ex_type, "stack": stack}],
        "paths": files,
    }


def user_frames(tb):
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if frame[0] != BOOTSTRAP_FILE:
            return frames[i:]
    return []


def _indent(line):
    n = len(line) - len(line.lstrip(" "))
    return ERROR_LOG_IDENT * n + line[n:]


def log_error(error_result):
    if _JSON_LOGS:
        rec = {"timestamp": _timestamp(time.time()), "level": "ERROR"}
        rec.update(error_result)
        sys.stdout.write(to_json(rec) + "\n")
        return
    desc = "[ERROR]"
    etype = error_result.get("errorType")
    if etype:
        desc += " " + etype
    emsg = error_result.get("errorMessage")
    if emsg:
        if etype:
            desc += ":"
        desc += " " + emsg
    lines = [desc]
    stack = error_result.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
            else:
                for line in element.splitlines():
                    lines.append(_indent(line))
    sys.stdout.write(ERROR_LOG_LINE_TERMINATE.join(lines) + "\n")


# ---------------------------------------------------------------------------
# Logging.

_JSON_LOGS = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
_REQUEST_ID = None


def _timestamp(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (
        int(t * 1000) % 1000
    )


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _REQUEST_ID or ""
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record):
        rec = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", ""),
        }
        if record.exc_info:
            etype, value, tb = record.exc_info
            rec["errorType"] = etype.__name__ if etype else ""
            rec["errorMessage"] = str(value)
            rec["stackTrace"] = traceback.format_tb(tb)
        return to_json(rec) + "\n"


class _StdoutHandler(logging.Handler):
    def emit(self, record):
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


def setup_logging():
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    if _JSON_LOGS:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    # AWS defaults the application log level to INFO with the JSON format.
    level = (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or ("INFO" if _JSON_LOGS else "")).upper()
    if level in ("TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL"):
        root.setLevel({"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level))
    root.addHandler(handler)


class Unbuffered(object):
    def __init__(self, stream):
        self.stream = stream

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        self.stream.write(msg)
        self.stream.flush()

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()


# ---------------------------------------------------------------------------
# Handler loading and the invocation loop.


def get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME,
            "Bad handler '{}': {}".format(handler, str(e)),
        )
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        m = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, str(e)),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, str(e)),
            trace,
        )
    try:
        return getattr(m, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
            None,
        )


def parse_json_header(value, name):
    try:
        return json.loads(value)
    except Exception as e:
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
            "Unable to parse {} JSON: {}".format(name, str(e)),
            None,
        )


def handle_event(client, request_handler, resp, body):
    invoke_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    error_result = None
    xray_cause = None
    try:
        client_context = resp.getheader("Lambda-Runtime-Client-Context")
        cognito = resp.getheader("Lambda-Runtime-Cognito-Identity")
        deadline = resp.getheader("Lambda-Runtime-Deadline-Ms")
        context = LambdaContext(
            invoke_id,
            parse_json_header(client_context, "Client Context") if client_context else None,
            parse_json_header(cognito, "Cognito Identity") if cognito else None,
            int(deadline) if deadline else 0,
            resp.getheader("Lambda-Runtime-Invoked-Function-Arn"),
            resp.getheader("Lambda-Runtime-Aws-Tenant-Id"),
        )
        event = unmarshal_request(body, resp.getheader("Content-Type"))
        result, content_type = marshal_response(request_handler(event, context))
    except FaultException as e:
        xray_cause = make_xray_cause("LambdaValidationError", e.msg, os.getcwd(), [])
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        etype, value, tb = sys.exc_info()
        frames = user_frames(tb)
        xray_cause = make_xray_cause(etype.__name__, str(value), os.getcwd(), frames)
        error_result = make_error(
            str(value), etype.__name__, traceback.format_list(frames), invoke_id
        )
    if error_result is not None:
        log_error(error_result)
        client.post_error(invoke_id, error_result, xray_cause)
    else:
        client.post_result(invoke_id, result, content_type)


def main():
    global _REQUEST_ID
    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        fatal("AWS_LAMBDA_RUNTIME_API is not set")
    client = RuntimeClient(address)

    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    # The task root replaces the bootstrap's own folder at the head of sys.path.
    here = os.path.dirname(BOOTSTRAP_FILE)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, task_root)

    try:
        setup_logging()
        request_handler = get_handler(os.environ.get("_HANDLER") or "")
    except Exception as e:
        if isinstance(e, FaultException):
            error_result = make_error(e.msg, e.exception_type, e.trace)
        else:
            etype, value, tb = sys.exc_info()
            error_result = make_error(
                str(value), etype.__name__, traceback.format_list(user_frames(tb))
            )
        log_error(error_result)
        client.post_init_error(error_result)
        sys.exit(1)

    while True:
        resp, body = client.next()
        _REQUEST_ID = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        if not _REQUEST_ID:
            fatal("invocation without Lambda-Runtime-Aws-Request-Id")
        trace_id = resp.getheader("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        handle_event(client, request_handler, resp, body)


if __name__ == "__main__":
    main()
