"""Outgoing calls of the demo functions, recorded the way X-Ray SDKs record them.

invoke()    Lambda Invoke through the Lambda REST API: an "aws" subsegment
            named "Lambda" with aws.operation "Invoke" and aws.function_name;
            the X-Amzn-Trace-Id it sends names that subsegment as Parent, so
            the callee's AWS::Lambda segment is its child.
http_call() a plain HTTP request to an uninstrumented service: a "remote"
            subsegment with http.request/http.response.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request


def lambda_endpoint():
    return (
        os.environ.get("DEMO_LAMBDA_ENDPOINT")
        or os.environ.get("AWS_ENDPOINT_URL_LAMBDA")
        or "http://127.0.0.1:3001"
    ).rstrip("/")


class LambdaError(Exception):
    """The Lambda API refused an Invoke (e.g. 429 TooManyRequestsException)."""

    def __init__(self, code, message, status):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.status = status


class InvokeResult(object):
    def __init__(self, status, function_error, payload, request_id):
        self.status = status
        self.function_error = function_error
        self.payload = payload
        self.request_id = request_id


def _open(req, timeout):
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()
    with resp:
        return resp.status, resp.headers, resp.read()


def invoke(parent, function_name, payload, timeout=30):
    """Invokes function_name synchronously under parent (a Tracer or Subsegment).

    Returns an InvokeResult; a function error comes back as a 200 with
    function_error set (an SDK does not flag those). Raises LambdaError when
    the API refuses the call (throttles: 429, recorded with the throttle flag).
    """
    region = os.environ.get("AWS_REGION", "us-east-1")
    with parent.subsegment("Lambda", namespace="aws") as sub:
        sub.set_aws(
            operation="Invoke",
            region=region,
            function_name=function_name,
            resource_names=[function_name],
        )
        url = "%s/2015-03-31/functions/%s/invocations" % (
            lambda_endpoint(),
            urllib.parse.quote(function_name, safe=""),
        )
        req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header("X-Amz-Invocation-Type", "RequestResponse")
        header = sub.header()
        if header:
            req.add_header("X-Amzn-Trace-Id", header)
        status, headers, body = _open(req, timeout)
        request_id = headers.get("x-amzn-RequestId")
        if request_id:
            sub.set_aws(request_id=request_id)
        sub.set_http(status=status, content_length=len(body))
        if status >= 400:
            code, message = headers.get("X-Amzn-ErrorType") or "LambdaException", ""
            try:
                doc = json.loads(body)
                message = doc.get("message") or doc.get("Message") or ""
            except ValueError:
                message = body[:200].decode("utf-8", "replace")
            err = LambdaError(code, message, status)
            sub.add_exception(err, remote=True, fault=status >= 500)
            raise err
        function_error = headers.get("X-Amz-Function-Error")
        try:
            result = json.loads(body) if body else None
        except ValueError:
            result = None
        return InvokeResult(status, function_error, result, request_id)


def http_call(parent, name, method, url, doc=None, timeout=10):
    """Calls an uninstrumented HTTP service; returns (status, parsed JSON or None)."""
    with parent.subsegment(name, namespace="remote") as sub:
        sub.set_http(method=method, url=url)
        data = json.dumps(doc).encode() if doc is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        header = sub.header()
        if header:
            req.add_header("X-Amzn-Trace-Id", header)
        status, _, body = _open(req, timeout)
        sub.set_http(status=status, content_length=len(body))
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            return status, None
