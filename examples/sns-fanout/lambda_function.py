"""An order notification: each message published to the SNS topic "orders" arrives as an SNS event
(one record; "Sns" holds the message, its subject and attributes). It logs one line per order and
returns what it read. Deploys to AWS unchanged: the standard library only.
"""

import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    orders = []
    for record in event["Records"]:
        sns = record["Sns"]
        attributes = {name: a["Value"] for name, a in (sns.get("MessageAttributes") or {}).items()}
        try:
            order = json.loads(sns["Message"])
        except ValueError:
            order = {"text": sns["Message"]}
        logger.info("order %s from %s: %s %s", sns["MessageId"], sns["TopicArn"], order, attributes)
        orders.append({"message_id": sns["MessageId"], "order": order, "attributes": attributes})
    return {"orders": orders}
