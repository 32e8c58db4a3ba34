"""demo inventory: reserves stock for one order line.

It runs with a small reserved concurrency, so bursts of parallel calls are
throttled by the Lambda service. Now and then the stock ledger fails (an
unhandled error), is slow, or hangs past the function's timeout.
"""

import os
import random
import time

import xraylite

FAULT_RATE = float(os.environ.get("DEMO_FAULT_RATE", "0"))
SLOW_RATE = float(os.environ.get("DEMO_SLOW_RATE", "0"))

STOCK = {"p-100": 500, "p-200": 120, "p-300": 900, "p-400": 35}


class LedgerUnavailable(Exception):
    pass


def handler(event, context):
    tracer = xraylite.Tracer.from_env()
    sku = str(event.get("sku", ""))
    qty = int(event.get("qty", 1))
    with tracer.subsegment("stock ledger") as seg:
        seg.annotate("sku", sku)
        seg.annotate("qty", qty)
        roll = random.random()
        if roll < FAULT_RATE / 4:
            # Hangs until the Lambda service ends the invocation (a timeout).
            time.sleep(context.get_remaining_time_in_millis() / 1000.0 + 1)
        elif roll < FAULT_RATE:
            raise LedgerUnavailable("stock ledger connection reset")
        if random.random() < SLOW_RATE:
            time.sleep(0.2 + random.random() * 0.5)
        else:
            time.sleep(0.003 + random.random() * 0.012)
        available = STOCK.get(sku, 0)
        seg.metadata("available", available)
    return {"sku": sku, "reserved": available >= qty, "available": available}
