"""EventBridge: rules with a ``ScheduleExpression`` (SAM's ``Schedule`` events) or an ``EventPattern``
(SAM's ``EventBridgeRule`` events), event buses, and EventBridge Scheduler schedules (SAM's
``ScheduleV2``), made with ``put-rule`` / ``put-targets``, ``create-event-bus`` and ``create-schedule``;
the sandbox's clock fires the scheduled ones (sandbox/event_sources/schedules/), its buses deliver the
rest (sandbox/event_sources/eventbridge/)."""

from __future__ import annotations

import json

from sandbox.sam.resources import Created, Kind, arn_service, referenced_type

_TARGET_TYPES = {"AWS::Lambda::Function": "lambda", "AWS::SQS::Queue": "sqs", "AWS::SNS::Topic": "sns"}
_TARGET_KEYS = ("Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig", "SqsParameters")


def _target_problem(arn, plan, where: str, served=("lambda", "sqs")) -> str | None:
    kind = referenced_type(arn, plan)
    service = _TARGET_TYPES.get(kind) if kind else arn_service(arn)
    if kind is None and not isinstance(arn, str):
        return None
    if service not in served:
        kinds = (
            "Lambda functions, SQS queues and SNS topics"
            if "sns" in served
            else "Lambda functions and SQS queues"
        )
        return f"{where}: a {'pattern rule' if 'sns' in served else 'schedule'} delivers to {kinds} only here"
    return None


class Rule(Kind):
    type = "AWS::Events::Rule"
    properties = frozenset(
        {"ScheduleExpression", "EventPattern", "Targets", "State", "Name", "Description", "EventBusName"}
    )
    name_property = "Name"

    def check(self, logical_id, props, plan) -> list[str]:
        problems = []
        if "ScheduleExpression" not in props and "EventPattern" not in props:
            problems.append("a rule needs a ScheduleExpression or an EventPattern")
        if "ScheduleExpression" in props and props.get("EventBusName", "default") != "default":
            problems.append("EventBusName: scheduled rules run on the default event bus only")
        pattern = props.get("EventPattern")
        if isinstance(pattern, dict | str):
            from sandbox.event_sources.eventbridge.patterns import InvalidEventPattern, load

            try:
                load(pattern if isinstance(pattern, str) else json.dumps(pattern))
            except (InvalidEventPattern, TypeError) as exc:
                problems.append(f"EventPattern: {exc}")
        for index, target in enumerate(props.get("Targets") or []):
            served = ("lambda", "sqs") if "ScheduleExpression" in props else ("lambda", "sqs", "sns")
            problem = _target_problem(target.get("Arn"), plan, f"Targets[{index}]", served)
            if problem:
                problems.append(problem)
            for key in set(target) - {"Arn", "Id", *_TARGET_KEYS}:
                problems.append(
                    f"Targets[{index}].{key} is not run by the sandbox (Lambda's own retries and "
                    f"dead-letter queue apply)"
                )
        return problems

    updatable = frozenset({"ScheduleExpression", "EventPattern", "Targets", "State", "Description"})

    def update(self, logical_id, created, props, ctx) -> Created:
        """put-rule and put-targets again, on the same rule (its old targets removed first)."""
        if created.extra.get("targets"):
            ctx.client("events").remove_targets(
                Rule=created.physical_id, Ids=created.extra["targets"], **_bus(created.extra)
            )
        ctx.name = created.physical_id
        return self.create(logical_id, props, ctx)

    def create(self, logical_id, props, ctx) -> Created:
        events = ctx.client("events")
        request = {"Name": ctx.name, "State": props.get("State", "ENABLED")}
        if "ScheduleExpression" in props:
            request["ScheduleExpression"] = props["ScheduleExpression"]
        if "EventPattern" in props:
            pattern = props["EventPattern"]
            request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        bus = _bus({"bus": _bus_name(props.get("EventBusName"))})
        request.update(bus)
        if "Description" in props:
            request["Description"] = props["Description"]
        arn = events.put_rule(**request)["RuleArn"]
        targets = []
        for target in props.get("Targets") or []:
            converted = {"Id": target["Id"], "Arn": target["Arn"]}
            for key in _TARGET_KEYS:
                if key in target:
                    value = target[key]
                    converted[key] = (
                        json.dumps(value) if key == "Input" and not isinstance(value, str) else value
                    )
            targets.append(converted)
        if targets:
            events.put_targets(Rule=ctx.name, Targets=targets, **bus)
        extra = {"targets": [t["Id"] for t in targets], "bus": bus.get("EventBusName")}
        return Created(ctx.name, ctx.name, {"Arn": arn}, extra)

    def delete(self, created, ctx) -> None:
        events = ctx.client("events")
        bus = _bus(created.extra)
        if created.extra.get("targets"):
            events.remove_targets(Rule=created.physical_id, Ids=created.extra["targets"], **bus)
        events.delete_rule(Name=created.physical_id, **bus)


def _bus_name(value) -> str | None:
    """EventBusName as given (a name or an ARN), None for the default bus."""
    if not isinstance(value, str) or value in ("", "default"):
        return None
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _bus(extra: dict) -> dict:
    return {"EventBusName": extra["bus"]} if extra.get("bus") else {}


class EventBus(Kind):
    type = "AWS::Events::EventBus"
    properties = frozenset({"Name", "Description"})
    noted = {
        "Tags": "tags are not kept by the sandbox",
        "Policy": "bus policies are not applied by the sandbox",
        "KmsKeyIdentifier": "encryption is not run by the sandbox",
        "DeadLetterConfig": "the bus's own dead-letter queue is not run by the sandbox",
    }
    name_property = "Name"

    def create(self, logical_id, props, ctx) -> Created:
        request = {"Name": ctx.name}
        if "Description" in props:
            request["Description"] = props["Description"]
        arn = ctx.client("events").create_event_bus(**request)["EventBusArn"]
        return Created(ctx.name, ctx.name, {"Arn": arn, "Name": ctx.name})

    def delete(self, created, ctx) -> None:
        ctx.client("events").delete_event_bus(Name=created.physical_id)


class Schedule(Kind):
    type = "AWS::Scheduler::Schedule"
    properties = frozenset(
        {
            "Name",
            "GroupName",
            "ScheduleExpression",
            "ScheduleExpressionTimezone",
            "FlexibleTimeWindow",
            "Target",
            "State",
            "StartDate",
            "EndDate",
            "Description",
        }
    )
    noted = {"KmsKeyArn": "schedules are stored unencrypted by the sandbox"}
    name_property = "Name"

    def check(self, logical_id, props, plan) -> list[str]:
        target = props.get("Target") or {}
        problems = []
        problem = _target_problem(target.get("Arn"), plan, "Target")
        if problem:
            problems.append(problem.replace("a scheduled rule", "a schedule"))
        for key in set(target) - {"Arn", "RoleArn", "Input", "RetryPolicy"}:
            problems.append(f"Target.{key} is not run by the sandbox")
        return problems

    def create(self, logical_id, props, ctx) -> Created:
        scheduler = ctx.client("scheduler")
        target = {k: v for k, v in props["Target"].items() if k in ("Arn", "RoleArn", "Input", "RetryPolicy")}
        if "Input" in target and not isinstance(target["Input"], str):
            target["Input"] = json.dumps(target["Input"])
        request = {
            "Name": ctx.name,
            "ScheduleExpression": props["ScheduleExpression"],
            "Target": target,
            "FlexibleTimeWindow": props.get("FlexibleTimeWindow") or {"Mode": "OFF"},
        }
        for key in (
            "GroupName",
            "ScheduleExpressionTimezone",
            "State",
            "StartDate",
            "EndDate",
            "Description",
        ):
            if key in props:
                request[key] = props[key]
        arn = scheduler.create_schedule(**request)["ScheduleArn"]
        group = props.get("GroupName", "default")
        return Created(ctx.name, ctx.name, {"Arn": arn}, {"group": group})

    def delete(self, created, ctx) -> None:
        ctx.client("scheduler").delete_schedule(
            Name=created.physical_id, GroupName=created.extra.get("group", "default")
        )


KINDS = (Rule(), EventBus(), Schedule())
