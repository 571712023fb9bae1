"""Scheduled events: EventBridge rules with a schedule expression (``aws events put-rule
--schedule-expression ...`` + ``put-targets``) and EventBridge Scheduler schedules
(``aws scheduler create-schedule``), fired on the sandbox's clock.

A Lambda target is invoked asynchronously with the Scheduled Event (or its ``Input`` / ``InputPath`` /
``InputTransformer``); an SQS target gets a message. ``--time-scale N`` speeds up the clock, and a rule
can be fired now (``run_local.py fire-rule``), which AWS cannot do. moto's own delivery never runs.

AWS's semantics and where the sandbox differs: docs/event-sources.md.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import threading
from dataclasses import dataclass, field

from sandbox.errors import SandboxError
from sandbox.event_sources.base import EventSource, SourceContext
from sandbox.event_sources.schedules.clock import ScaledClock, ScheduleTimer, TimerEntry
from sandbox.event_sources.schedules.control_plane import RulesControlPlane, SchedulerControlPlane
from sandbox.event_sources.schedules.expressions import InvalidScheduleExpression, ScheduleExpression, parse
from sandbox.event_sources.schedules.targets import (
    DETAIL_TYPE,
    RULES_SOURCE,
    SCHEDULER_SOURCE,
    lambda_function_name,
    scheduled_event,
    sqs_queue,
    target_payload,
)

DELIVERY_ATTEMPTS = 3  # the sandbox's own failures to send a scheduled event: attempts, then the DLQ
RETRY_DELAY_S = 0.5

__all__ = ["ScheduledEventSource", "describe", "ScaledClock", "parse", "InvalidScheduleExpression"]


def describe(event) -> tuple[str, str, dict] | None:
    """What a Scheduled Event is about: the rule (or Scheduler schedule) named in its resources."""
    if not isinstance(event, dict) or event.get("detail-type") != DETAIL_TYPE:
        return None
    source = event.get("source")
    resources = event.get("resources") or [""]
    name = str(resources[0]).rsplit("/", 1)[-1]
    if source == RULES_SOURCE:
        return RULES_SOURCE, f"rule {name}", {"rule": name}
    if source == SCHEDULER_SOURCE:
        return SCHEDULER_SOURCE, f"schedule {name}", {"schedule": name}
    return None


@dataclass
class Scheduled:
    """A rule with a schedule expression, or a Scheduler schedule, as the clock knows it."""

    kind: str  # "rule" or "schedule"
    name: str
    group: str | None  # Scheduler's schedule group; None for rules
    arn: str
    expression: ScheduleExpression
    enabled: bool
    targets: list = field(default_factory=list)  # PutTargets' targets, or the schedule's one Target
    created: float = 0.0  # on the sandbox's clock: where a rate starts counting
    start: float | None = None  # Scheduler's StartDate / EndDate (epoch seconds)
    end: float | None = None
    delete_after: bool = False  # Scheduler's ActionAfterCompletion DELETE (one-time schedules)

    @property
    def key(self) -> tuple:
        return (self.kind, self.group, self.name)

    @property
    def source(self) -> str:
        return RULES_SOURCE if self.kind == "rule" else SCHEDULER_SOURCE

    @property
    def label(self) -> str:
        return f"rule {self.name}" if self.kind == "rule" else f"schedule {self.group}/{self.name}"

    @property
    def subject(self) -> dict:
        return {"rule": self.name} if self.kind == "rule" else {"schedule": self.name, "group": self.group}


class ScheduledEventSource(EventSource):
    name = "schedules"
    describe = staticmethod(describe)

    def __init__(self, context: SourceContext, clock: ScaledClock | None = None):
        self.context = context
        self.clock = clock or ScaledClock(context.time_scale)
        self.timer = ScheduleTimer(self.clock, self._due, self._timer_failed)
        self._items: dict[tuple, Scheduled] = {}
        self._unreadable: dict[str, list[tuple]] = {}  # kind -> (label, expression, why) kept but not run
        self._sync_lock = threading.Lock()  # one re-read of the rules (or schedules) at a time
        self._said: set = set()  # lines already shown on the terminal (each once)
        self._permission_checked: set = set()  # (rule ARN, function) pairs whose permission was looked at
        self._service = None
        self.faults: dict[tuple, int] = {}  # item key -> events the sandbox failed to send (then retried)

    def service_middleware(self) -> dict:
        return {
            "events": lambda app: RulesControlPlane(
                app, lambda action, request: self._resync(self.sync_rules), self.context.report
            ),
            "scheduler": lambda app: SchedulerControlPlane(
                app, lambda what, request: self._resync(self.sync_schedules), self.context.report
            ),
        }

    def start(self, service) -> None:
        self._service = service
        self.timer.start()
        if self.context.state is not None:  # rules restored from a state directory: the clock learns them
            self._resync(self.sync_rules)
            self._resync(self.sync_schedules)

    def stop(self) -> None:
        self.timer.stop()

    # -- what the clock knows, re-read through the API after every change ---------------------------
    def _resync(self, sync) -> None:
        """After a change the caller's request succeeded; a failure to re-read is told, never theirs.
        One re-read at a time, so an older reading never overwrites a newer one."""
        try:
            with self._sync_lock:
                sync()
        except Exception as exc:
            self.context.report(f"sandbox: could not re-read the schedules after a change: {exc}")

    def sync_rules(self) -> None:
        """Read the default event bus's scheduled rules and their targets back from EventBridge."""
        events = self.context.client("events")
        found = []
        for page in events.get_paginator("list_rules").paginate():
            for rule in page["Rules"]:
                if not rule.get("ScheduleExpression"):
                    continue
                targets = [
                    t
                    for p in events.get_paginator("list_targets_by_rule").paginate(Rule=rule["Name"])
                    for t in p["Targets"]
                ]
                found.append((rule, targets))
        current, unreadable = set(), []
        for rule, targets in found:
            try:
                expression = parse(rule["ScheduleExpression"])
            except InvalidScheduleExpression as exc:  # stored before PutRule checked it (a kept state)
                unreadable.append((f"rule {rule['Name']}", rule["ScheduleExpression"], str(exc)))
                continue
            item = Scheduled(
                "rule",
                rule["Name"],
                None,
                rule["Arn"],
                expression,
                rule.get("State", "ENABLED") == "ENABLED",
                targets,
            )
            current.add(item.key)
            self._put(item)
        self._drop_missing("rule", current)
        self._unreadable["rule"] = unreadable

    def sync_schedules(self) -> None:
        """Read every EventBridge Scheduler schedule back from the Scheduler API."""
        scheduler = self.context.client("scheduler")
        found = []
        for page in scheduler.get_paginator("list_schedules").paginate():
            for summary in page["Schedules"]:
                found.append(
                    scheduler.get_schedule(
                        Name=summary["Name"], GroupName=summary.get("GroupName", "default")
                    )
                )
        current, unreadable = set(), []
        for schedule in found:
            try:
                expression = parse(
                    schedule["ScheduleExpression"],
                    allow_at=True,
                    timezone=schedule.get("ScheduleExpressionTimezone") or "UTC",
                )
            except InvalidScheduleExpression as exc:
                unreadable.append(
                    (
                        f"schedule {schedule.get('GroupName', 'default')}/{schedule['Name']}",
                        schedule["ScheduleExpression"],
                        str(exc),
                    )
                )
                continue
            item = Scheduled(
                "schedule",
                schedule["Name"],
                schedule.get("GroupName", "default"),
                schedule["Arn"],
                expression,
                schedule.get("State", "ENABLED") == "ENABLED",
                [schedule["Target"]],
                start=_epoch(schedule.get("StartDate")),
                end=_epoch(schedule.get("EndDate")),
                delete_after=schedule.get("ActionAfterCompletion") == "DELETE",
            )
            current.add(item.key)
            self._put(item)
        self._drop_missing("schedule", current)
        self._unreadable["schedule"] = unreadable

    def _put(self, item: Scheduled) -> None:
        known = self._items.get(item.key)
        same_schedule = (
            known is not None
            and known.expression.describe() == item.expression.describe()
            and (known.start, known.end) == (item.start, item.end)
        )
        item.created = known.created if same_schedule else self._anchor(item, known)
        self._items[item.key] = item
        if not item.enabled:
            self.timer.remove(item.key)
        elif not (same_schedule and known.enabled and self.timer.get(item.key) is not None):
            # a new or changed schedule starts counting now; an unchanged one keeps its next time
            self.timer.put(
                TimerEntry(
                    item.key,
                    item.expression,
                    anchor=item.start or item.created,
                    not_before=item.start,
                    not_after=item.end,
                )
            )

    def _anchor(self, item: Scheduled, known: Scheduled | None) -> float:
        """Where a new or changed schedule starts counting: now; with a state directory (and the real
        clock), a schedule the sandbox already knew before a restart keeps its creation time, so rate()
        keeps its phase across restarts as it does on AWS."""
        now = self.clock.now()
        state = self.context.state if self.context.time_scale == 1 else None
        if state is None:
            return now
        name = f"schedule-anchor/{item.kind}/{item.group or ''}/{item.name}"
        kept = state.load(name) if known is None else None
        if kept and kept.get("expression") == item.expression.describe():
            return kept["created"]
        state.save(name, {"expression": item.expression.describe(), "created": now})
        return now

    def _drop_missing(self, kind: str, current: set) -> None:
        for key in [k for k in self._items if k[0] == kind and k not in current]:
            del self._items[key]
            self.timer.remove(key)

    # -- firing --------------------------------------------------------------------------------------
    def _due(self, key: tuple, due: float) -> None:
        item = self._items.get(key)
        if item is None or not item.enabled:
            return
        self.fire(item, due)
        entry = self.timer.get(key)
        if item.kind == "schedule" and item.delete_after and entry is not None and entry.next_due is None:
            self.context.client("scheduler").delete_schedule(
                Name=item.name, GroupName=item.group
            )  # as Scheduler does

    def _timer_failed(self, key: tuple, exc: Exception) -> None:
        self.context.report(f"sandbox: the scheduled {key[0]} {key[2]} could not fire: {exc}")

    def fire(self, item: Scheduled, at: float) -> list:
        """Send each target of ``item`` what AWS would send it at ``at``; the invocation records made."""
        records = []
        for target in item.targets:
            records.extend(self._send(item, target, at))
        return records

    def _send(self, item: Scheduled, target: dict, at: float, attempt: int = 1) -> list:
        """One target's event. When the sandbox's own path fails (building or sending it), the failure is
        told and counted on the trigger, and the event is sent again; after ``DELIVERY_ATTEMPTS`` it goes
        to the target's dead-letter queue (``DeadLetterConfig``), as EventBridge does with an event it
        could not deliver. AWS retries for up to 24 hours (185 attempts) with backoff; here every attempt
        is ``RETRY_DELAY_S`` apart, so a failure shows at once."""
        try:
            account = item.arn.split(":")[4]
            event = scheduled_event(item.arn, self.context.region, account, at, source=item.source)
            if item.kind == "rule":
                payload = target_payload(target, event, item.name, item.arn)
            else:  # Scheduler sends its Input, or its default notification
                payload = target_payload({"Input": target.get("Input")}, event, item.name, item.arn)
            return self._deliver(item, target, payload)
        except Exception as exc:
            self.faults[item.key] = self.faults.get(item.key, 0) + 1
            final = attempt >= DELIVERY_ATTEMPTS
            self.context.report(
                f"sandbox: {item.label} could not send its event to {target.get('Arn')} "
                f"(attempt {attempt} of {DELIVERY_ATTEMPTS}): {type(exc).__name__}: {exc}"
                + ("" if final else f"; retrying in {RETRY_DELAY_S:g} s")
            )
            if final:
                self._dead_letter(item, target, at, attempt, exc)
            else:
                retry = threading.Timer(RETRY_DELAY_S, self._send, (item, target, at, attempt + 1))
                retry.daemon = True
                retry.start()
            return []

    def _dead_letter(self, item: Scheduled, target: dict, at: float, attempts: int, exc: Exception) -> None:
        """The undelivered event to the target's dead-letter queue, with the message attributes EventBridge
        (rules) or Scheduler (schedules) puts on it; told when the target has none (AWS drops it)."""
        queue = sqs_queue(((target.get("DeadLetterConfig") or {}).get("Arn")) or "")
        if queue is None:
            self.context.report(
                f"sandbox: {item.label}'s event for {target.get('Arn')} was not delivered and "
                f"the target has no DeadLetterConfig to keep it (AWS drops it too)"
            )
            return
        try:
            body = json.dumps(
                scheduled_event(item.arn, self.context.region, item.arn.split(":")[4], at, source=item.source)
            )
        except Exception:
            body = json.dumps({"resources": [item.arn], "time": at})
        if item.kind == "rule":
            attributes = {
                "RULE_ARN": item.arn,
                "TARGET_ARN": target.get("Arn", ""),
                "ERROR_CODE": "SandboxError",
                "ERROR_MESSAGE": str(exc)[:1000],
                "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
                "RETRY_ATTEMPTS": str(attempts - 1),
            }
        else:
            attributes = {
                "X-Amz-Scheduler-Schedule-Arn": item.arn,
                "X-Amz-Scheduler-Target-Arn": target.get("Arn", ""),
                "X-Amz-Scheduler-Attempt": str(attempts),
                "X-Amz-Scheduler-Error-Code": "SandboxError",
                "X-Amz-Scheduler-Error-Message": str(exc)[:1000],
            }
        try:
            sqs = self.context.client("sqs")
            url = sqs.get_queue_url(QueueName=queue[0], QueueOwnerAWSAccountId=queue[1])["QueueUrl"]
            sqs.send_message(
                QueueUrl=url,
                MessageBody=body,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value or "-"}
                    for name, value in attributes.items()
                },
            )
        except Exception as error:
            self.context.report(
                f"sandbox: {item.label}'s undelivered event could not reach its dead-letter "
                f"queue {queue[0]}: {error}"
            )

    def _deliver(self, item: Scheduled, target: dict, payload) -> list:
        function = lambda_function_name(target.get("Arn", ""))
        if function is not None:
            if self._service.runtime(function) is None:
                self._say(
                    f"{item.label}: its target {target.get('Arn')} names no function of the sandbox; "
                    f"nothing was invoked (AWS counts a FailedInvocation)."
                )
                return []
            record = self._service.new_record(
                payload,
                function,
                trigger="schedule",
                source=item.source,
                summary=item.label,
                subject=item.subject,
            )
            self._service.submit(record)  # asynchronous, as EventBridge invokes: retries and the DLQ apply
            if item.kind == "rule":
                self._check_permission(item, function)
            return [record]
        queue = sqs_queue(target.get("Arn", ""))
        if queue is not None:
            sqs = self.context.client("sqs")
            url = sqs.get_queue_url(QueueName=queue[0], QueueOwnerAWSAccountId=queue[1])["QueueUrl"]
            body = payload if isinstance(payload, str) else json.dumps(payload)
            parameters = target.get("SqsParameters") or {}
            extra = (
                {"MessageGroupId": parameters["MessageGroupId"]} if parameters.get("MessageGroupId") else {}
            )
            sqs.send_message(QueueUrl=url, MessageBody=body, **extra)
            return []
        self._say(
            f"{item.label}: the sandbox delivers scheduled events to Lambda functions and SQS queues "
            f"only; target {target.get('Arn')} was skipped."
        )
        return []

    def _check_permission(self, item: Scheduled, function: str) -> None:
        """EventBridge may invoke a function only if its resource-based policy allows
        ``events.amazonaws.com`` (``aws lambda add-permission``); the sandbox says so instead of failing.
        Checked once per rule and function."""
        if (item.arn, function) in self._permission_checked:
            return
        self._permission_checked.add((item.arn, function))
        try:
            policy = json.loads(self.context.client("lambda").get_policy(FunctionName=function)["Policy"])
        except Exception:  # no policy at all (ResourceNotFoundException)
            policy = {"Statement": []}
        for statement in policy.get("Statement", []):
            principal = statement.get("Principal")
            service = principal.get("Service") if isinstance(principal, dict) else principal
            sources = [
                arn
                for test in (statement.get("Condition") or {}).values()
                for key, arns in test.items()
                if key.lower() == "aws:sourcearn"
                for arn in ([arns] if isinstance(arns, str) else arns)
            ]
            if (
                service == "events.amazonaws.com"
                and statement.get("Effect", "Allow") == "Allow"
                and (not sources or any(fnmatch.fnmatchcase(item.arn, arn) for arn in sources))
            ):
                return
        self._say(
            f"{item.label} invokes {function}, whose resource-based policy does not let EventBridge "
            f"invoke it: on AWS this invocation would fail. The sandbox runs it anyway; add the "
            f"permission with: aws lambda add-permission --function-name {function} --statement-id "
            f"{item.name}-events --action lambda:InvokeFunction --principal events.amazonaws.com "
            f"--source-arn {item.arn}"
        )

    def _say(self, line: str) -> None:
        if line not in self._said:
            self._said.add(line)
            self.context.report(f"sandbox: {line}")

    # -- for the CLI and the page ------------------------------------------------------------------
    def triggers(self) -> list[dict]:
        """Each target of each scheduled rule (and schedule), as the page and `run_local.py triggers` list
        it."""
        found = []
        for item in self.schedules():
            name = item["name"] if item["kind"] == "rule" else f"{item['group']}/{item['name']}"
            for target in item["targets"] or [{"function": None, "arn": "no targets"}]:
                found.append(
                    {
                        "kind": "EventBridge rule" if item["kind"] == "rule" else "Scheduler schedule",
                        "source": f"{item['kind']} {name}",
                        "function": target["function"],
                        "detail": (
                            f"{item['expression']}"
                            f"{'' if item['timezone'] == 'UTC' else ' ' + item['timezone']} -> "
                            f"{'function ' + target['function'] if target['function'] else target['arn']}"
                        ),
                        "state": item["state"].capitalize(),
                        "next_fire": _when(item),
                        **(
                            {
                                "faults": (
                                    f"{item['faults']} event(s) the sandbox failed to send (see its output)"
                                )
                            }
                            if item["faults"]
                            else {}
                        ),
                    }
                )
        for kind, unreadable in list(self._unreadable.items()):  # kept, but their times cannot be computed
            for label, expression, why in unreadable:
                found.append(
                    {
                        "kind": "EventBridge rule" if kind == "rule" else "Scheduler schedule",
                        "source": label,
                        "function": None,
                        "state": "Cannot be computed",
                        "detail": f"{expression} -> never fires here ({why})",
                        "next_fire": None,
                    }
                )
        return found

    def fire_now(self, name: str, kind: str = "rule", group: str | None = None) -> list:
        """Fire a rule (or a Scheduler schedule) now, as if its time had come; its next time is unchanged."""
        key = (kind, (group or "default") if kind == "schedule" else None, name)
        item = self._items.get(key)
        what = "scheduled rule" if kind == "rule" else "schedule"
        if item is None:
            raise SandboxError(
                f"No {what} named {name!r} in {self.context.region}; list them with "
                + ("`aws events list-rules`." if kind == "rule" else "`aws scheduler list-schedules`.")
            )
        if not item.enabled:
            command = (
                f"aws events enable-rule --name {name}"
                if kind == "rule"
                else f"aws scheduler update-schedule --name {name} --state ENABLED ..."
            )
            raise SandboxError(
                f"The {what} {name!r} is disabled, so it does not fire; enable it with `{command}`."
            )
        return self.fire(item, self.clock.now())

    def schedules(self) -> list[dict]:
        """Every scheduled rule and schedule, with its next time (sandbox clock and real seconds from now)."""
        now = self.clock.now()
        listed = []
        for item in sorted(self._items.values(), key=lambda i: (i.kind, i.group or "", i.name)):
            entry = self.timer.get(item.key)
            next_due = entry.next_due if entry is not None and item.enabled else None
            listed.append(
                {
                    "kind": item.kind,
                    "name": item.name,
                    "group": item.group,
                    "arn": item.arn,
                    "expression": item.expression.text,
                    "timezone": item.expression.timezone,
                    "state": "ENABLED" if item.enabled else "DISABLED",
                    "targets": [
                        {
                            "id": t.get("Id"),
                            "arn": t.get("Arn"),
                            "function": lambda_function_name(t.get("Arn", "")),
                            "input": t.get("Input"),
                        }
                        for t in item.targets
                    ],
                    "next_fire_at": next_due,
                    "next_fire_in_s": None
                    if next_due is None
                    else round(self.clock.real_seconds(next_due - now), 3),
                    "last_fired_at": entry.last_fired if entry else None,
                    "last_fire_lag_ms": None
                    if entry is None or entry.last_lag_s is None
                    else round(entry.last_lag_s * 1000, 1),
                    "time_scale": self.clock.scale,
                    "faults": self.faults.get(item.key, 0),
                }
            )
        return listed


def _when(item: dict) -> str | None:
    """``2026-12-01 03:00:00 UTC (in 5 h 12 min)``; the real wait, and the clock's speed when it is not 1."""
    if item["next_fire_at"] is None:
        return None
    try:
        when = dt.datetime.fromtimestamp(item["next_fire_at"], dt.timezone.utc)
    except (OverflowError, ValueError, OSError):
        return "beyond the dates the sandbox can show"
    stamp = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    seconds = max(0, int(round(item["next_fire_in_s"])))
    hours, rest = divmod(seconds, 3600)
    wait = (
        f"{hours} h {rest // 60:02d} min"
        if hours
        else f"{rest // 60} min {rest % 60:02d} s"
        if rest >= 60
        else f"{rest} s"
    )
    scale = f", sandbox clock {item['time_scale']:g}x faster" if item["time_scale"] != 1 else ""
    return f"{stamp} (in {wait}{scale})"


def _epoch(value) -> float | None:
    if value is None:
        return None
    return value.timestamp() if hasattr(value, "timestamp") else float(value)
