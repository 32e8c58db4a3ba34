"""A tiny X-Ray tracer for code running inside a Lambda function (stdlib only).

It does what the X-Ray SDKs do inside Lambda: the function segment belongs to
the Lambda service, so the tracer builds a *facade* from _X_AMZN_TRACE_ID
(Root, Parent, Sampled) and sends every subsegment it records as an
independent document over UDP to AWS_XRAY_DAEMON_ADDRESS:

    {"format": "json", "version": 1}\\n
    {"type": "subsegment", "trace_id": <Root>, "parent_id": <Parent or the
     enclosing subsegment's id>, "id": ..., "name": ..., "start_time": ...,
     "end_time": ..., ...}

A subsegment's header() is the X-Amzn-Trace-Id to send on an outgoing call
(Root, Parent = the subsegment's id, Sampled) so the callee's segment becomes
its child in the trace and on the service map.
"""

import json
import os
import random
import socket
import threading
import time
import traceback

DAEMON_HEADER = b'{"format": "json", "version": 1}\n'
MAX_DATAGRAM = 64 * 1024

_sock = None
_sock_lock = threading.Lock()


def new_id():
    """A random, non-zero 16-hex-digit segment id."""
    while True:
        v = random.getrandbits(64)
        if v:
            return "%016x" % v


def parse_header(value):
    """Parses an X-Amzn-Trace-Id value into a dict (Root, Parent, Sampled, ...)."""
    out = {}
    for part in (value or "").split(";"):
        part = part.strip()
        if "=" not in part:
            continue
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def daemon_address(value):
    """The UDP (host, port) of AWS_XRAY_DAEMON_ADDRESS.

    Accepts "host:port" and the two-address form "tcp:host:port udp:host:port".
    """
    value = (value or "").strip() or "127.0.0.1:2000"
    for part in value.split():
        if part.startswith("udp:"):
            value = part[4:]
            break
        if not part.startswith("tcp:"):
            value = part
            break
    host, _, port = value.rpartition(":")
    return (host or "127.0.0.1", int(port))


def _send(addr, doc):
    global _sock
    data = DAEMON_HEADER + json.dumps(doc, separators=(",", ":")).encode()
    if len(data) > MAX_DATAGRAM:
        doc = dict(doc)
        for k in ("metadata", "cause"):
            doc.pop(k, None)
        data = DAEMON_HEADER + json.dumps(doc, separators=(",", ":")).encode()
    with _sock_lock:
        if _sock is None:
            _sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock = _sock
    try:
        sock.sendto(data, addr)
    except OSError:
        pass  # tracing never breaks the function


class Subsegment(object):
    """One timed unit of work; use it as a context manager or call close()."""

    def __init__(self, tracer, name, parent_id, namespace=None):
        self.tracer = tracer
        self.id = new_id()
        self.doc = {
            "type": "subsegment",
            "id": self.id,
            "trace_id": tracer.root,
            "parent_id": parent_id,
            "name": name,
            "start_time": time.time(),
        }
        if namespace:
            self.doc["namespace"] = namespace
        self._closed = False

    def subsegment(self, name, namespace=None):
        """A child of this subsegment."""
        return Subsegment(self.tracer, name, self.id, namespace)

    def header(self):
        """X-Amzn-Trace-Id for a call made inside this subsegment."""
        return self.tracer.header_with_parent(self.id)

    def annotate(self, key, value):
        self.doc.setdefault("annotations", {})[key] = value

    def metadata(self, key, value, namespace="default"):
        self.doc.setdefault("metadata", {}).setdefault(namespace, {})[key] = value

    def set_http(self, method=None, url=None, status=None, content_length=None):
        http = self.doc.setdefault("http", {})
        if method or url:
            req = http.setdefault("request", {})
            if method:
                req["method"] = method
            if url:
                req["url"] = url
        if status is not None:
            resp = http.setdefault("response", {})
            resp["status"] = status
            if content_length is not None:
                resp["content_length"] = content_length
            self.flag_status(status)

    def set_aws(self, **fields):
        self.doc.setdefault("aws", {}).update(fields)

    def flag_status(self, status):
        """error for 4xx, throttle too for 429, fault for 5xx (X-Ray semantics)."""
        if status == 429:
            self.doc["throttle"] = True
        if 400 <= status < 500:
            self.doc["error"] = True
        elif status >= 500:
            self.doc["fault"] = True

    def add_exception(self, exc, remote=False, fault=True):
        """Records exc as the cause; fault (default) or error."""
        stack = []
        for fr in traceback.extract_tb(exc.__traceback__)[-10:]:
            stack.append({"path": fr.filename, "line": fr.lineno, "label": fr.name})
        ex = {"id": new_id(), "type": type(exc).__name__, "message": str(exc), "stack": stack}
        if remote:
            ex["remote"] = True
        cause = self.doc.setdefault(
            "cause", {"working_directory": os.getcwd(), "exceptions": []}
        )
        cause["exceptions"].append(ex)
        if fault:
            self.doc["fault"] = True
        else:
            self.doc["error"] = True

    def close(self):
        if self._closed:
            return
        self._closed = True
        self.doc["end_time"] = time.time()
        if self.tracer.sampled:
            _send(self.tracer.daemon, self.doc)

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        if exc is not None and "cause" not in self.doc:
            self.add_exception(exc)
        self.close()
        return False


class Tracer(object):
    """The facade of one invocation: Root, Parent and Sampled of _X_AMZN_TRACE_ID."""

    def __init__(self, trace_header, daemon):
        h = parse_header(trace_header)
        self.root = h.get("Root", "")
        self.parent = h.get("Parent", "")
        self.sampled = h.get("Sampled") == "1" and bool(self.root) and bool(self.parent)
        self.lineage = h.get("Lineage")
        self.daemon = daemon

    @classmethod
    def from_env(cls):
        """The tracer of the current invocation (call it inside the handler)."""
        return cls(
            os.environ.get("_X_AMZN_TRACE_ID", ""),
            daemon_address(os.environ.get("AWS_XRAY_DAEMON_ADDRESS")),
        )

    def subsegment(self, name, namespace=None):
        """A subsegment directly under the function (the facade's Parent)."""
        return Subsegment(self, name, self.parent, namespace)

    def header_with_parent(self, parent):
        if not self.root:
            return ""
        parts = ["Root=" + self.root, "Parent=" + parent, "Sampled=" + ("1" if self.sampled else "0")]
        if self.lineage:
            parts.append("Lineage=" + self.lineage)
        return ";".join(parts)
