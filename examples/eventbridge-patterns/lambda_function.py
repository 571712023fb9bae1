"""A shipment: EventBridge sends it what the rule's input transformer makes of each big order put on
the "shop" bus ({"order", "total", "country", "rule"}, not the whole event). It logs one line per order
and returns what it read. Deploys to AWS unchanged: the standard library only.
"""

import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    logger.info(
        "ship order %s (%s to %s), matched by %s",
        event["order"],
        event["total"],
        event["country"],
        event["rule"],
    )
    return {"shipped": event["order"], "total": event["total"]}
