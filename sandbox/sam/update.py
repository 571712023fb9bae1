"""Updating a stack (an ``UPDATE`` change set, ``update-stack``): what changes, and doing it.

CloudFormation compares the new template with the stack's and adds, modifies or removes resources. The
sandbox does the same for the changes a redeploy usually makes: new and removed resources, a function's
code and configuration (``update-function-code``, ``update-function-configuration``), an API stage
moved to a new deployment, a bucket's notifications, an event source mapping's settings, a rule's
schedule and targets. A change that would need CloudFormation to replace a resource is refused when the
change set is made, naming the resource and the properties.
"""

from __future__ import annotations

import time

from sandbox.sam.intrinsics import TemplateError
from sandbox.sam.resources import KINDS
from sandbox.sam.stack import StackEvent, _reason, _say


def _changed(previous, candidate, logical_id: str) -> set[str]:
    old, new = previous.plan.static.get(logical_id) or {}, candidate.plan.static.get(logical_id) or {}
    return {key for key in set(old) | set(new) if old.get(key) != new.get(key)}


def changes(previous, candidate) -> list[dict]:
    """The change set's ``Changes``; raises TemplateError for a change the sandbox can't make in place."""
    old, new = previous.plan, candidate.plan
    found, refused = [], []
    for name in new.order:
        kind = new.type_of(name)
        if name not in old.created:
            action = "Add"
        elif old.type_of(name) != kind:
            refused.append(f"{name} changes from {old.type_of(name)} to {kind}")
            continue
        else:
            changed = _changed(previous, candidate, name)
            if not changed:
                continue
            beyond = sorted(changed - KINDS[kind].updatable)
            if beyond:
                refused.append(f"{name} ({kind}): changing {', '.join(beyond)} would replace it")
                continue
            action = "Modify"
        change = {"Action": action, "LogicalResourceId": name, "ResourceType": kind}
        if action == "Modify":
            change.update(PhysicalResourceId=old.created[name].physical_id, Replacement="False")
        found.append({"Type": "Resource", "ResourceChange": change})
    for name in old.created:
        if name not in new.included:
            found.append(
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Remove",
                        "LogicalResourceId": name,
                        "PhysicalResourceId": old.created[name].physical_id,
                        "ResourceType": old.type_of(name),
                    },
                }
            )
    if refused:
        raise TemplateError(
            "The sandbox updates functions, stages, bucket notifications, mappings and rules in "
            "place and adds and removes resources, but does not replace them: "
            + "; ".join(refused)
            + ". Delete the stack and deploy again."
        )
    return found


def apply_update(previous, candidate, sandbox) -> None:
    """Make the stack what ``candidate`` describes; on a failure, remove what the update added and leave
    the stack as it was (UPDATE_ROLLBACK_COMPLETE; functions it changed keep their new configuration)."""
    from sandbox.sam.resource_context import Deployment

    old, new = previous.plan, candidate.plan
    previous.status = "UPDATE_IN_PROGRESS"
    deployment = Deployment(candidate, sandbox)
    events, added = [], []
    try:
        for name in new.order:
            kind = new.type_of(name)
            if name in old.created and not _changed(previous, candidate, name):
                new.created[name], new.props[name] = old.created[name], old.props[name]
                continue
            props = new.resolved(name)
            deployment.begin(name, props)
            if name in old.created:
                created = KINDS[kind].update(name, old.created[name], props, deployment)
                status = "UPDATE_COMPLETE"
            else:
                created = KINDS[kind].create(name, props, deployment)
                added.append(name)
                status = "CREATE_COMPLETE"
            new.created[name], new.props[name] = created, props
            events.append(StackEvent(name, kind, status, created.physical_id))
        for name in reversed(old.order):
            if name in old.created and name not in new.created:
                if (old.resources[name] or {}).get("DeletionPolicy") != "Retain":
                    KINDS[old.type_of(name)].delete(old.created[name], deployment)
                events.append(StackEvent(name, old.type_of(name), "DELETE_COMPLETE"))
    except Exception as exc:
        reason = _reason(exc)
        for name in reversed(added):
            try:
                KINDS[new.type_of(name)].delete(new.created[name], deployment)
            except Exception:
                pass
        previous.events += events + [
            StackEvent(
                deployment.logical_id,
                new.type_of(deployment.logical_id) or "",
                "UPDATE_FAILED",
                reason=reason,
            )
        ]
        previous.status, previous.status_reason = (
            "UPDATE_ROLLBACK_COMPLETE",
            f"{deployment.logical_id}: {reason}",
        )
        _say(sandbox, f"{previous.name}: update failed at {deployment.logical_id}: {reason}")
        sandbox.template_stacks.save(previous)
        return
    candidate.events = previous.events + events
    candidate.created_at, candidate.updated_at = previous.created_at, time.time()
    candidate.complete("UPDATE_COMPLETE", sandbox, deployment)
    previous.stop()
    sandbox.template_stacks.replace(candidate)
    sandbox.template_stacks.save(candidate)  # on disk (--state-dir) before the API answers
