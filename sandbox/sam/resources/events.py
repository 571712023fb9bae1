"""Scheduled events: EventBridge rules with a ``ScheduleExpression`` (SAM's ``Schedule`` events) and
EventBridge Scheduler schedules (SAM's ``ScheduleV2``), made with ``put-rule`` / ``put-targets`` and
``create-schedule``; the sandbox's clock fires them (sandbox/event_sources/schedules/)."""

from __future__ import annotations

import json

from sandbox.sam.resources import Created, Kind, arn_service, referenced_type

_TARGET_TYPES = {"AWS::Lambda::Function": "lambda", "AWS::SQS::Queue": "sqs"}


def _target_problem(arn, plan, where: str) -> str | None:
    kind = referenced_type(arn, plan)
    service = _TARGET_TYPES.get(kind) if kind else arn_service(arn)
    if kind is None and not isinstance(arn, str):
        return None
    if service not in ("lambda", "sqs"):
        return f"{where}: a scheduled rule delivers to Lambda functions and SQS queues only here"
    return None


class Rule(Kind):
    type = "AWS::Events::Rule"
    properties = frozenset({"ScheduleExpression", "Targets", "State", "Name", "Description", "EventBusName"})
    name_property = "Name"

    def check(self, logical_id, props, plan) -> list[str]:
        problems = []
        if "ScheduleExpression" not in props:
            problems.append(
                "a rule without ScheduleExpression (an event pattern): the sandbox runs scheduled rules only"
            )
        if props.get("EventBusName", "default") != "default":
            problems.append("EventBusName: scheduled rules run on the default event bus only")
        for index, target in enumerate(props.get("Targets") or []):
            problem = _target_problem(target.get("Arn"), plan, f"Targets[{index}]")
            if problem:
                problems.append(problem)
            for key in set(target) - {"Arn", "Id", "Input", "InputPath", "InputTransformer"}:
                problems.append(
                    f"Targets[{index}].{key} is not run by the sandbox (Lambda's own retries and "
                    f"dead-letter queue apply)"
                )
        return problems

    updatable = frozenset({"ScheduleExpression", "Targets", "State", "Description"})

    def update(self, logical_id, created, props, ctx) -> Created:
        """put-rule and put-targets again, on the same rule (its old targets removed first)."""
        if created.extra.get("targets"):
            ctx.client("events").remove_targets(Rule=created.physical_id, Ids=created.extra["targets"])
        ctx.name = created.physical_id
        return self.create(logical_id, props, ctx)

    def create(self, logical_id, props, ctx) -> Created:
        events = ctx.client("events")
        request = {
            "Name": ctx.name,
            "ScheduleExpression": props["ScheduleExpression"],
            "State": props.get("State", "ENABLED"),
        }
        if "Description" in props:
            request["Description"] = props["Description"]
        arn = events.put_rule(**request)["RuleArn"]
        targets = []
        for target in props.get("Targets") or []:
            converted = {"Id": target["Id"], "Arn": target["Arn"]}
            for key in ("Input", "InputPath", "InputTransformer"):
                if key in target:
                    value = target[key]
                    converted[key] = (
                        json.dumps(value) if key == "Input" and not isinstance(value, str) else value
                    )
            targets.append(converted)
        if targets:
            events.put_targets(Rule=ctx.name, Targets=targets)
        return Created(ctx.name, ctx.name, {"Arn": arn}, {"targets": [t["Id"] for t in targets]})

    def delete(self, created, ctx) -> None:
        events = ctx.client("events")
        if created.extra.get("targets"):
            events.remove_targets(Rule=created.physical_id, Ids=created.extra["targets"])
        events.delete_rule(Name=created.physical_id)


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


KINDS = (Rule(), Schedule())
