"""demo api: the shop's front door, an API-Gateway-style function.

Events: {"route": "POST /orders", "user": "...", "items": [{"sku", "qty"}]}
        {"route": "GET /orders/<id>", "user": "..."}
It validates the request and invokes the orders function; the response is
an API Gateway proxy result ({"statusCode", "headers", "body"}).
"""

import json
import os

import calls
import xraylite

ORDERS = os.environ.get("DEMO_ORDERS_FUNCTION", "orders")


def respond(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event, context):
    tracer = xraylite.Tracer.from_env()
    route = str(event.get("route", ""))
    user = str(event.get("user", "anonymous"))
    with tracer.subsegment("## handler") as seg:
        seg.annotate("route", route)
        seg.annotate("user", user)
        if route == "POST /orders":
            with seg.subsegment("validate order") as v:
                items = event.get("items") or []
                v.metadata("items", items)
                bad = [i for i in items if not i.get("sku") or int(i.get("qty", 0)) <= 0]
                if not items or bad:
                    v.annotate("valid", False)
                    return respond(400, {"message": "an order needs items with sku and qty > 0"})
            req = {"action": "create", "user": user, "items": items}
        elif route.startswith("GET /orders/"):
            req = {"action": "get", "user": user, "order_id": route[len("GET /orders/"):]}
        else:
            return respond(404, {"message": "no route " + route})

        try:
            res = calls.invoke(seg, ORDERS, req)
        except calls.LambdaError as e:
            if e.status == 429:
                return respond(429, {"message": "too many requests, try again"})
            return respond(502, {"message": str(e)})
        if res.function_error:
            seg.annotate("orders_failed", True)
            msg = (res.payload or {}).get("errorMessage", "orders failed")
            return respond(502, {"message": msg})
        out = res.payload or {}
        status = int(out.pop("status", 200))
        seg.annotate("status", status)
        return respond(status, out)
