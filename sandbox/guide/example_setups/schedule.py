"""``--example schedule``: an EventBridge scheduled rule -> Lambda, a nightly report of the buckets
(examples/schedule/). Set up with the calls the README shows for AWS: put-rule, add-permission,
put-targets."""

from __future__ import annotations

import datetime as dt

from sandbox.guide.example_setups import EXAMPLES_DIR, Example, allow_invoke, create_function, package

RULE = "bucket-report"
FUNCTION = "BucketReportLambda"
EXPRESSION = "cron(0 3 * * ? *)"  # every day at 03:00 UTC


def setup(sandbox) -> list[str]:
    config = sandbox.config
    function_arn = create_function(
        sandbox,
        FUNCTION,
        package(EXAMPLES_DIR / "schedule"),
        "lambda_function.lambda_handler",
        Timeout=30,
        Environment={
            "Variables": {
                "SOURCE_BUCKET": config.source_bucket,
                "DESTINATION_BUCKET": config.destination_bucket,
            }
        },
    )
    events = sandbox.shared_client("events")
    rule_arn = events.put_rule(
        Name=RULE,
        ScheduleExpression=EXPRESSION,
        Description="A report of the image buckets, every day at 03:00 UTC",
    )["RuleArn"]
    allow_invoke(sandbox, FUNCTION, f"{RULE}-events", "events.amazonaws.com", rule_arn)
    events.put_targets(Rule=RULE, Targets=[{"Id": "report", "Arn": function_arn}])
    rule = next(s for s in sandbox.schedules() if s["name"] == RULE)
    when = dt.datetime.fromtimestamp(rule["next_fire_at"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    wait = (
        f"in {rule['next_fire_in_s'] / 60:.0f} min" if rule["next_fire_in_s"] >= 60 else "in under a minute"
    )
    faster = "" if config.time_scale == 1 else f" on the sandbox clock ({config.time_scale:g}x faster)"
    return [
        f"rule {RULE} {EXPRESSION} -> {FUNCTION} -> s3://{config.destination_bucket}/reports/",
        f"next report: {when}{faster}, {wait}; to run it now: python run_local.py fire-rule {RULE}",
    ]


EXAMPLE = Example("schedule", "a report of the buckets every night at 03:00 UTC (EventBridge rule)", setup)
