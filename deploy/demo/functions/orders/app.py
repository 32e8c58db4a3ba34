"""demo orders: places and looks up orders.

"create" reserves every item with the inventory function (in parallel, so a
large order runs into inventory's reserved concurrency and gets throttled),
then charges the payment partner, an uninstrumented HTTP service. Failures
of either are raised: they end the invocation with an unhandled error.
"""

import os
import random
import threading
import time

import calls
import xraylite

INVENTORY = os.environ.get("DEMO_INVENTORY_FUNCTION", "inventory")
PARTNER_URL = os.environ.get("DEMO_PARTNER_URL", "http://127.0.0.1:9")
SLOW_RATE = float(os.environ.get("DEMO_SLOW_RATE", "0"))

PRICES = {"p-100": 12.5, "p-200": 40.0, "p-300": 7.25, "p-400": 99.0}


class InventoryError(Exception):
    pass


class PaymentError(Exception):
    pass


def reserve(parent, item, results, index):
    """Reserves one item; a throttled call is retried once after a pause."""
    for attempt in range(2):
        try:
            results[index] = calls.invoke(
                parent, INVENTORY, {"action": "reserve", "sku": item["sku"], "qty": item["qty"]}
            )
            return
        except calls.LambdaError as e:
            results[index] = e
            if e.status != 429 or attempt == 1:
                return
            time.sleep(0.05 + random.random() * 0.1)
        except Exception as e:  # network trouble: recorded on the subsegment already
            results[index] = e
            return


def create(tracer, event):
    items = event.get("items") or []
    with tracer.subsegment("reserve stock") as seg:
        seg.annotate("items", len(items))
        results = [None] * len(items)
        threads = [
            threading.Thread(target=reserve, args=(seg, item, results, i))
            for i, item in enumerate(items)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    throttled = [r for r in results if isinstance(r, calls.LambdaError) and r.status == 429]
    if throttled:
        return {"status": 429, "message": "inventory is busy, try again"}
    for r in results:
        if isinstance(r, Exception):
            raise InventoryError("reserve failed: %s" % r)
        if r.function_error:
            raise InventoryError(
                "inventory failed: %s" % ((r.payload or {}).get("errorMessage") or r.function_error)
            )
    missing = [items[i]["sku"] for i, r in enumerate(results) if not (r.payload or {}).get("reserved")]
    if missing:
        return {"status": 409, "message": "out of stock: " + ", ".join(missing)}

    with tracer.subsegment("price order") as seg:
        total = sum(PRICES.get(i["sku"], 10.0) * int(i["qty"]) for i in items)
        if random.random() < SLOW_RATE:
            time.sleep(0.15 + random.random() * 0.3)  # a slow pricing rule
        seg.metadata("total", total)

    status, body = calls.http_call(
        tracer, "payments-partner", "POST", PARTNER_URL + "/v1/charges",
        {"amount": round(total, 2), "currency": "EUR", "customer": event.get("user")},
    )
    if status == 429:
        return {"status": 429, "message": "payment partner is busy, try again"}
    if status == 402:
        return {"status": 402, "message": "payment declined"}
    if status >= 400:
        raise PaymentError("payment partner answered %d" % status)
    order_id = "o-%08x" % random.getrandbits(32)
    return {"status": 201, "order_id": order_id, "total": total, "charge": (body or {}).get("id")}


def get(tracer, event):
    with tracer.subsegment("load order") as seg:
        order_id = str(event.get("order_id", ""))
        seg.annotate("order_id", order_id)
        time.sleep(0.002 + random.random() * 0.008)
        if not order_id.startswith("o-"):
            return {"status": 404, "message": "no order " + order_id}
        return {"status": 200, "order_id": order_id, "state": random.choice(["paid", "shipped", "delivered"])}


def handler(event, context):
    tracer = xraylite.Tracer.from_env()
    action = event.get("action")
    if action == "create":
        return create(tracer, event)
    if action == "get":
        return get(tracer, event)
    raise ValueError("unknown action %r" % action)
