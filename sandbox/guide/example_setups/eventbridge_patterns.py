"""``--example eventbridge-patterns``: a custom event bus whose rule sends the big orders, reshaped by an
input transformer, to a function (examples/eventbridge-patterns/). Set up with the calls the README shows
for AWS: create-event-bus, put-rule with an event pattern, add-permission, put-targets."""

from __future__ import annotations

import json

from sandbox.guide.example_setups import EXAMPLES_DIR, Example, allow_invoke, create_function, package

BUS = "shop"
RULE = "big-orders"
FUNCTION = "ShipOrderLambda"
PATTERN = {
    "source": ["shop.orders"],
    "detail-type": ["Order Placed"],
    "detail": {"total": [{"numeric": [">=", 100]}], "country": [{"anything-but": ["XX"]}]},
}
TRANSFORMER = {
    "InputPathsMap": {"order": "$.detail.orderId", "total": "$.detail.total", "country": "$.detail.country"},
    "InputTemplate": (
        '{"order": <order>, "total": <total>, "country": <country>, "rule": "<aws.events.rule-name>"}'
    ),
}


def setup(sandbox) -> list[str]:
    function_arn = create_function(
        sandbox,
        FUNCTION,
        package(EXAMPLES_DIR / "eventbridge-patterns"),
        "lambda_function.lambda_handler",
        Timeout=10,
    )
    events = sandbox.shared_client("events")
    events.create_event_bus(Name=BUS)
    rule_arn = events.put_rule(Name=RULE, EventBusName=BUS, EventPattern=json.dumps(PATTERN))["RuleArn"]
    allow_invoke(sandbox, FUNCTION, f"{RULE}-events", "events.amazonaws.com", rule_arn)
    events.put_targets(
        Rule=RULE,
        EventBusName=BUS,
        Targets=[{"Id": "ship", "Arn": function_arn, "InputTransformer": TRANSFORMER}],
    )
    return [
        f"bus {BUS}: rule {RULE} (orders of 100 or more) -> {FUNCTION}, through an input transformer",
        f'try: aws events put-events --entries \'[{{"EventBusName": "{BUS}", "Source": "shop.orders", '
        f'"DetailType": "Order Placed", "Detail": "{{\\"orderId\\": \\"A1\\", \\"total\\": 250, '
        f'\\"country\\": \\"FR\\"}}"}}]\'',
    ]


EXAMPLE = Example(
    "eventbridge-patterns", "a custom bus whose rule sends big orders to a function, reshaped", setup
)
