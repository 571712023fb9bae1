"""CloudFormation's API on the local endpoint, answered by the sandbox: ``aws cloudformation deploy`` (and
``create-stack``, ``update-stack``, ``delete-stack``, change sets, ``describe-*``) works against it.

moto's CloudFormation has no SAM transform and creates resources the sandbox never hears of, so the whole
``cloudformation`` API (Query protocol) is served here: each stack is a
:class:`~sandbox.sam.stack.TemplateStack`, created through the same APIs as ``run_local.py --template``.
A stack is complete when ``ExecuteChangeSet`` returns; an update refuses to replace most resources.

What matches AWS and where it differs: docs/sam-internals.md.
"""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from sandbox.errors import SandboxError
from sandbox.sam.applications import StackNotKept
from sandbox.sam.intrinsics import TemplateError

NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)


class CloudFormationError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Time(float):
    """A timestamp, written as ISO 8601 in the answers."""


@dataclass
class ChangeSet:
    name: str
    stack_name: str
    kind: str  # CREATE or UPDATE
    candidate: object | None
    parameters: list
    capabilities: list
    description: str = ""
    status: str = "CREATE_COMPLETE"
    reason: str = ""
    execution_status: str = "AVAILABLE"
    changes: list = field(default_factory=list)
    id: str = ""
    stack_id: str = ""
    created: float = field(default_factory=time.time)


def _form(environ) -> dict[str, str]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    text = body.decode("utf-8") if body else environ.get("QUERY_STRING", "")
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _members(form: dict, prefix: str) -> list:
    """``Parameters.member.1.ParameterKey=...`` -> ``[{"ParameterKey": ...}]``; ``Capabilities.member.1=X`` ->
    ``["X"]``."""
    found: dict[int, object] = {}
    start = f"{prefix}.member."
    for key, value in form.items():
        if not key.startswith(start):
            continue
        index, _, field_name = key[len(start) :].partition(".")
        if field_name:
            entry = found.setdefault(int(index), {})
            if isinstance(entry, dict):
                entry[field_name] = value
        else:
            found[int(index)] = value
    return [found[i] for i in sorted(found)]


def _xml(name: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return f"<{name}>" + "".join(_xml("member", v) for v in value) + f"</{name}>"
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_xml(k, v) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Time):
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(value)) + f".{int(value % 1 * 1000):03d}Z"
    else:
        text = escape(str(value))
    return f"<{name}>{text}</{name}>"


def _capabilities_needed(expanded: dict) -> list[str]:
    """What CloudFormation asks for before it creates IAM resources (CAPABILITY_NAMED_IAM when named)."""
    needed = []
    for resource in (expanded.get("Resources") or {}).values():
        if str(resource.get("Type", "")).startswith("AWS::IAM::"):
            props = resource.get("Properties") or {}
            named = any(k in props for k in ("RoleName", "ManagedPolicyName", "UserName", "GroupName"))
            capability = "CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"
            if capability not in needed:
                needed.append(capability)
    return ["CAPABILITY_NAMED_IAM"] if "CAPABILITY_NAMED_IAM" in needed else needed


class CloudFormationApi:
    """A WSGI app for the ``cloudformation`` service of the local endpoint."""

    def __init__(self, applications):
        self.applications = applications
        self._change_sets: dict[str, ChangeSet] = {}

    @property
    def sandbox(self):
        return self.applications.sandbox

    def __call__(self, environ, start_response):
        form = _form(environ)
        action = form.get("Action", "")
        handler = getattr(self, f"_{action}", None) if action else None
        try:
            if handler is None:
                raise CloudFormationError(
                    "InvalidAction",
                    f"The sandbox's CloudFormation does not implement {action or 'this request'}.",
                )
            result = handler(form)
        except CloudFormationError as exc:
            return self._error(start_response, exc)
        except SandboxError as exc:
            return self._error(start_response, CloudFormationError("ValidationError", str(exc)))
        except StackNotKept as exc:  # done in memory, not on disk: the client must not take it as done
            return self._error(start_response, CloudFormationError("InternalFailure", str(exc), 500))
        body = (
            f'<{action}Response xmlns="{NAMESPACE}">{_xml(f"{action}Result", result or {})}'
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
        )
        data = body.encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/xml"),
                ("Content-Length", str(len(data))),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [data]

    @staticmethod
    def _error(start_response, exc: CloudFormationError):
        party = "Receiver" if exc.status >= 500 else "Sender"
        data = (
            f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{party}</Type><Code>{exc.code}</Code>'
            f"<Message>{escape(exc.message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
            f"</ErrorResponse>"
        ).encode()
        reason = {404: "Not Found", 500: "Internal Server Error"}.get(exc.status, "Bad Request")
        start_response(
            f"{exc.status} {reason}", [("Content-Type", "text/xml"), ("Content-Length", str(len(data)))]
        )
        return [data]

    # -- reading a request -----------------------------------------------------------------------------
    def _stack(self, name: str, live: bool = True):
        stack = self.applications.get(name) if name else None
        if stack is None or (live and stack.status == "DELETE_COMPLETE" and not name.startswith("arn:")):
            raise CloudFormationError("ValidationError", f"Stack with id {name} does not exist")
        return stack

    def _template_text(self, form: dict, previous=None) -> str:
        if form.get("TemplateBody"):
            return form["TemplateBody"]
        if form.get("TemplateURL"):
            return self._read_url(form["TemplateURL"])
        if form.get("UsePreviousTemplate") == "true" and previous is not None:
            return previous.template.text
        raise CloudFormationError(
            "ValidationError", "Either Template URL or Template Body must be specified."
        )

    def _read_url(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        path = unquote(parts.path.lstrip("/"))
        if ".s3" in host and not host.startswith("s3"):
            bucket, key = host.split(".s3", 1)[0], path
        else:
            bucket, _, key = path.partition("/")
        try:
            found = self.sandbox.shared_client("s3").get_object(Bucket=bucket, Key=key)
        except Exception:
            raise CloudFormationError(
                "ValidationError",
                f"TemplateURL must be a supported URL; s3://{bucket}/{key} is not in the sandbox's S3.",
            ) from None
        return found["Body"].read().decode("utf-8")

    def _parameters(self, form: dict, previous=None) -> dict:
        values = {}
        for item in _members(form, "Parameters"):
            key = item.get("ParameterKey")
            if item.get("UsePreviousValue") == "true":
                if previous is None or key not in previous.template.parameters:
                    raise CloudFormationError(
                        "ValidationError",
                        f"Invalid input for parameter key {key}. Cannot "
                        f"specify usePreviousValue as true for a parameter "
                        f"that has not been set before",
                    )
                value = previous.template.parameters[key]
                values[key] = ",".join(value) if isinstance(value, list) else value
            elif key:
                values[key] = item.get("ParameterValue", "")
        return values

    def _candidate(self, text: str, stack_name: str, parameters: dict, capabilities: list, previous=None):
        """The stack a template would make (expanded and checked); template format errors are the API's
        ValidationError, as CloudFormation answers them."""
        from sandbox.sam.stack import TemplateStack
        from sandbox.sam.template import decode, expand

        try:
            decode(text, "template")
        except TemplateError as exc:
            raise CloudFormationError("ValidationError", f"Template format error: {exc}") from None
        expanded = expand(
            text,
            source=stack_name,
            parameter_overrides=parameters,
            stack_name=stack_name,
            region=self.sandbox.config.region,
            local_code=False,
        )
        missing = [c for c in _capabilities_needed(expanded.expanded) if c not in capabilities]
        if missing:
            raise CloudFormationError(
                "InsufficientCapabilitiesException", f"Requires capabilities : [{', '.join(missing)}]"
            )
        return TemplateStack(
            expanded,
            stack_name,
            self.sandbox.config.region,
            exports=self.applications.exports,
            origin="aws cloudformation",
            previous=previous,
        )

    # -- stacks ----------------------------------------------------------------------------------------
    def _CreateStack(self, form):
        name = form.get("StackName", "")
        existing = self.applications.get(name)
        if existing is not None and existing.status != "DELETE_COMPLETE":
            raise CloudFormationError("AlreadyExistsException", f"Stack [{name}] already exists")
        try:
            stack = self._candidate(
                self._template_text(form), name, self._parameters(form), _members(form, "Capabilities")
            )
            stack.capabilities = _members(form, "Capabilities")
        except TemplateError as exc:
            raise CloudFormationError("ValidationError", str(exc)) from None
        self._run_create(stack)
        return {"StackId": stack.plan.stack_id}

    def _run_create(self, stack) -> None:
        try:
            stack.create(self.sandbox)
        except SandboxError:
            pass  # the stack's status and events say what failed (ROLLBACK_COMPLETE), as on AWS

    def _UpdateStack(self, form):
        stack = self._stack(form.get("StackName", ""))
        change_set = self._new_change_set(form, stack.name, "UPDATE", f"update-{uuid.uuid4().hex[:8]}")
        if change_set.status == "FAILED":
            code = "ValidationError"
            raise CloudFormationError(
                code,
                "No updates are to be performed." if change_set.reason == NO_CHANGES else change_set.reason,
            )
        self._execute(change_set)
        return {"StackId": stack.plan.stack_id}

    def _DeleteStack(self, form):
        stack = self.applications.get(form.get("StackName", ""))
        if stack is not None and stack.status not in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS"):
            stack.delete(self.sandbox)
        elif stack is not None and stack.status == "REVIEW_IN_PROGRESS":
            stack.status = "DELETE_COMPLETE"
        return {}

    def _DescribeStacks(self, form):
        name = form.get("StackName")
        stacks = (
            [self._stack(name, live=True)]
            if name
            else [s for s in self.applications.all() if s.status != "DELETE_COMPLETE"]
        )
        return {"Stacks": [self._describe_stack(s) for s in stacks]}

    def _describe_stack(self, stack) -> dict:
        found = {
            "StackId": stack.plan.stack_id,
            "StackName": stack.name,
            "Description": stack.template.description or None,
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": ",".join(v) if isinstance(v, list) else v}
                for k, v in stack.template.parameters.items()
            ],
            "CreationTime": Time(stack.created_at),
            "LastUpdatedTime": Time(stack.updated_at) if stack.updated_at else None,
            "StackStatus": stack.status,
            "StackStatusReason": stack.status_reason or None,
            "DisableRollback": False,
            "NotificationARNs": [],
            "Capabilities": list(stack.capabilities),
            "Outputs": [
                dict(
                    {"OutputKey": o["key"], "OutputValue": o["value"]},
                    **({"Description": o["description"]} if o["description"] else {}),
                    **({"ExportName": o["export"]} if o.get("export") else {}),
                )
                for o in stack.outputs
            ],
            "Tags": [],
            "EnableTerminationProtection": False,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        return {k: v for k, v in found.items() if v is not None}

    def _ListStacks(self, form):
        return {
            "StackSummaries": [
                {
                    "StackId": s.plan.stack_id,
                    "StackName": s.name,
                    "CreationTime": Time(s.created_at),
                    "StackStatus": s.status,
                    "TemplateDescription": s.template.description or None,
                }
                for s in self.applications.all()
            ]
        }

    def _DescribeStackEvents(self, form):
        stack = self._stack(form.get("StackName", ""), live=False)
        events = [
            {
                "StackId": stack.plan.stack_id,
                "EventId": f"{e.logical_id}-{i}",
                "StackName": stack.name,
                "LogicalResourceId": e.logical_id,
                "PhysicalResourceId": e.physical_id or None,
                "ResourceType": e.resource_type,
                "Timestamp": Time(e.timestamp),
                "ResourceStatus": e.status,
                "ResourceStatusReason": e.reason or None,
            }
            for i, e in enumerate(stack.events)
        ]
        return {"StackEvents": [{k: v for k, v in e.items() if v is not None} for e in reversed(events)]}

    def _resources(self, stack) -> list[dict]:
        return [
            {
                "StackName": stack.name,
                "StackId": stack.plan.stack_id,
                "LogicalResourceId": n,
                "PhysicalResourceId": c.physical_id,
                "ResourceType": stack.plan.type_of(n),
                "Timestamp": Time(stack.updated_at or stack.created_at),
                "LastUpdatedTimestamp": Time(stack.updated_at or stack.created_at),
                "ResourceStatus": "CREATE_COMPLETE",
                "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
            }
            for n, c in dict(stack.plan.created).items()
        ]  # a copy: a stack may be changing meanwhile

    def _DescribeStackResources(self, form):
        stack = self._stack(form.get("StackName", ""))
        resources = self._resources(stack)
        if form.get("LogicalResourceId"):
            resources = [r for r in resources if r["LogicalResourceId"] == form["LogicalResourceId"]]
        return {
            "StackResources": [
                {k: v for k, v in r.items() if k not in ("LastUpdatedTimestamp", "DriftInformation")}
                for r in resources
            ]
        }

    def _DescribeStackResource(self, form):
        stack = self._stack(form.get("StackName", ""))
        for resource in self._resources(stack):
            if resource["LogicalResourceId"] == form.get("LogicalResourceId"):
                resource.pop("Timestamp")
                return {"StackResourceDetail": resource}
        raise CloudFormationError(
            "ValidationError",
            f"Resource {form.get('LogicalResourceId')} does not exist for stack {stack.name}",
        )

    def _ListStackResources(self, form):
        stack = self._stack(form.get("StackName", ""))
        return {
            "StackResourceSummaries": [
                {
                    k: r[k]
                    for k in (
                        "LogicalResourceId",
                        "PhysicalResourceId",
                        "ResourceType",
                        "LastUpdatedTimestamp",
                        "ResourceStatus",
                        "DriftInformation",
                    )
                }
                for r in self._resources(stack)
            ]
        }

    def _GetTemplate(self, form):
        stack = self._stack(form.get("StackName", ""))
        return {"TemplateBody": stack.template.text, "StagesAvailable": ["Original", "Processed"]}

    def _summary(self, text: str) -> dict:
        from sandbox.sam.template import decode

        try:
            template = decode(text, "template")
        except TemplateError as exc:
            raise CloudFormationError("ValidationError", f"Template format error: {exc}") from None
        transforms = template.get("Transform") or []
        transforms = transforms if isinstance(transforms, list) else [transforms]
        parameters = [
            dict(
                {
                    "ParameterKey": str(k),
                    "NoEcho": str((v or {}).get("NoEcho", "false")).lower() == "true",
                    "ParameterType": (v or {}).get("Type", "String"),
                },
                **({"DefaultValue": str((v or {})["Default"])} if "Default" in (v or {}) else {}),
                **({"Description": str(v["Description"])} if (v or {}).get("Description") else {}),
            )
            for k, v in (template.get("Parameters") or {}).items()
        ]
        return {
            "Parameters": parameters,
            "Description": str(template.get("Description") or "").strip() or None,
            "Capabilities": _capabilities_needed(template)
            + (["CAPABILITY_AUTO_EXPAND"] if transforms else []),
            "ResourceTypes": sorted({str(r.get("Type")) for r in template["Resources"].values()}),
            "Version": str(template.get("AWSTemplateFormatVersion", "2010-09-09")),
            "DeclaredTransforms": [str(t) for t in transforms],
        }

    def _GetTemplateSummary(self, form):
        if form.get("StackName"):
            return self._summary(self._stack(form["StackName"]).template.text)
        return self._summary(self._template_text(form))

    def _ValidateTemplate(self, form):
        summary = self._summary(self._template_text(form))
        return {
            "Parameters": [
                {k: v for k, v in p.items() if k != "ParameterType"} for p in summary["Parameters"]
            ],
            "Description": summary["Description"],
            "Capabilities": summary["Capabilities"],
            "DeclaredTransforms": summary["DeclaredTransforms"],
        }

    def _ListExports(self, form):
        return {
            "Exports": [
                {"ExportingStackId": s.plan.stack_id, "Name": name, "Value": value}
                for s in self.applications.all()
                for name, value in s.exports().items()
            ]
        }

    # -- change sets -------------------------------------------------------------------------------------
    def _new_change_set(self, form, stack_name: str, kind: str, name: str) -> ChangeSet:
        existing = self.applications.get(stack_name)
        live = (
            existing
            if existing is not None and existing.status not in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS")
            else None
        )
        if kind == "CREATE" and live is not None:
            raise CloudFormationError(
                "ValidationError",
                f"Stack [{stack_name}] already exists and cannot be created "
                f"again with the changeSet [{name}].",
            )
        if kind == "UPDATE" and live is None:
            raise CloudFormationError("ValidationError", f"Stack [{stack_name}] does not exist")
        if kind == "UPDATE" and live.status == "ROLLBACK_COMPLETE":
            raise CloudFormationError(
                "ValidationError",
                f"Stack:{live.plan.stack_id} is in ROLLBACK_COMPLETE state and can not be updated.",
            )
        previous = live if kind == "UPDATE" else None
        capabilities = _members(form, "Capabilities")
        parameters = self._parameters(form, previous)
        change_set = ChangeSet(
            name,
            stack_name,
            kind,
            None,
            [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            capabilities,
            form.get("Description", ""),
        )
        text = self._template_text(form, previous)
        try:
            candidate = self._candidate(
                text, stack_name, parameters, capabilities, previous if kind == "UPDATE" else None
            )
        except TemplateError as exc:
            change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
            change_set.reason = f"Transform or template error: {exc}"
            candidate = None
        change_set.candidate = candidate
        if candidate is not None:
            candidate.capabilities = capabilities
            if kind == "CREATE":
                change_set.changes = [
                    {
                        "Type": "Resource",
                        "ResourceChange": {
                            "Action": "Add",
                            "LogicalResourceId": n,
                            "ResourceType": candidate.plan.type_of(n),
                        },
                    }
                    for n in candidate.plan.order
                ]
            else:
                from sandbox.sam.update import changes

                try:
                    change_set.changes = changes(previous, candidate)
                except TemplateError as exc:
                    change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
                    change_set.reason = str(exc)
                if not change_set.changes and change_set.status != "FAILED":
                    change_set.status, change_set.execution_status, change_set.reason = (
                        "FAILED",
                        "UNAVAILABLE",
                        NO_CHANGES,
                    )
        stack = previous or candidate
        change_set.stack_id = (
            stack.plan.stack_id
            if stack is not None
            else (
                f"arn:aws:cloudformation:{self.sandbox.config.region}:123456789012:stack/{stack_name}/{uuid.uuid4()}"
            )
        )
        change_set.id = (
            f"arn:aws:cloudformation:{self.sandbox.config.region}:123456789012:changeSet/{name}/"
            f"{uuid.uuid4()}"
        )
        if kind == "CREATE" and candidate is not None:
            self.applications.forget(stack_name)
            self.applications.add(candidate)  # REVIEW_IN_PROGRESS until the change set runs
        self._change_sets[change_set.id] = change_set
        return change_set

    def _change_set(self, form) -> ChangeSet:
        wanted, stack = form.get("ChangeSetName", ""), form.get("StackName")
        for change_set in self._change_sets.values():
            if change_set.id == wanted or (
                change_set.name == wanted and stack in (change_set.stack_name, change_set.stack_id)
            ):
                return change_set
        raise CloudFormationError("ChangeSetNotFound", f"ChangeSet [{wanted}] does not exist", 404)

    def _CreateChangeSet(self, form):
        kind = form.get("ChangeSetType", "UPDATE")
        change_set = self._new_change_set(
            form, form.get("StackName", ""), kind, form.get("ChangeSetName", "")
        )
        return {"Id": change_set.id, "StackId": change_set.stack_id}

    def _DescribeChangeSet(self, form):
        c = self._change_set(form)
        found = {
            "ChangeSetName": c.name,
            "ChangeSetId": c.id,
            "StackId": c.stack_id,
            "StackName": c.stack_name,
            "Description": c.description or None,
            "Parameters": c.parameters,
            "CreationTime": Time(c.created),
            "ExecutionStatus": c.execution_status,
            "Status": c.status,
            "StatusReason": c.reason or None,
            "NotificationARNs": [],
            "Capabilities": c.capabilities,
            "Changes": c.changes,
            "IncludeNestedStacks": False,
        }
        return {k: v for k, v in found.items() if v is not None}

    def _ListChangeSets(self, form):
        stack = form.get("StackName")
        return {
            "Summaries": [
                {
                    "StackId": c.stack_id,
                    "StackName": c.stack_name,
                    "ChangeSetId": c.id,
                    "ChangeSetName": c.name,
                    "ExecutionStatus": c.execution_status,
                    "Status": c.status,
                    "CreationTime": Time(c.created),
                }
                for c in self._change_sets.values()
                if stack in (c.stack_name, c.stack_id)
            ]
        }

    def _DeleteChangeSet(self, form):
        change_set = self._change_set(form)
        self._change_sets.pop(change_set.id, None)
        return {}

    def _ExecuteChangeSet(self, form):
        change_set = self._change_set(form)
        if change_set.execution_status != "AVAILABLE":
            raise CloudFormationError(
                "InvalidChangeSetStatus",
                f"ChangeSet [{change_set.id}] cannot be executed in its "
                f"current status of [{change_set.status}]",
            )
        self._execute(change_set)
        return {}

    def _execute(self, change_set: ChangeSet) -> None:
        change_set.execution_status = "EXECUTE_COMPLETE"
        candidate = change_set.candidate
        if change_set.kind == "CREATE":
            self._run_create(candidate)
            return
        from sandbox.sam.update import apply_update

        previous = self.applications.get(change_set.stack_name)
        apply_update(previous, candidate, self.sandbox)
