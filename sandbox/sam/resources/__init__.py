"""The CloudFormation resource types the sandbox runs, each created through the same AWS API a user (or
CloudFormation itself) would call on the local endpoint.

A :class:`Kind` declares, for one resource type, the properties it runs as on AWS (``properties``), the
ones it accepts although they have no effect here (``noted``: each with the sentence saying so, shown to
the user), how to check deeper parts before anything is created (``check``), how to create it and what
``Ref`` and ``Fn::GetAtt`` then give (``create`` -> :class:`Created`), and how to delete it. A property
in neither set, or a resource type not in ``KINDS``, is refused by name before anything is created.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import Any

from sandbox.config import ACCOUNT_ID


@dataclass
class Created:
    """A created resource: its physical id, what ``Ref`` gives, its ``Fn::GetAtt`` attributes."""

    physical_id: str
    ref: Any
    attributes: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # what deleting it needs


class Kind:
    type = ""
    properties: frozenset = frozenset()
    noted: dict = {}
    # The property that names the resource, and CloudFormation's rule for a generated name when it is
    # absent: "<stack>-<LogicalId>-<RANDOM>" within ``name_limit`` characters (lower case for buckets).
    name_property: str | None = None
    name_limit = 64
    lowercase = False

    def check(self, logical_id: str, props: dict, plan) -> list[str]:
        """Problems with statically resolved ``props`` (references to resources stay as written)."""
        return []

    def create(self, logical_id: str, props: dict, ctx) -> Created:
        raise NotImplementedError

    def delete(self, created: Created, ctx) -> None:
        pass

    # Properties a stack update changes in place (update.py); a change to any other would replace it.
    updatable: frozenset = frozenset()

    def update(self, logical_id: str, created: Created, props: dict, ctx) -> Created:
        raise NotImplementedError

    def physical_name(self, stack: str, logical_id: str, props: dict) -> str | None:
        if self.name_property is None:
            return None
        given = props.get(self.name_property)
        if isinstance(given, str):
            return given
        return generated_name(stack, logical_id, self.name_limit, self.lowercase)


def generated_name(
    stack: str, logical_id: str, limit: int = 64, lowercase: bool = False, suffix: str = ""
) -> str:
    """CloudFormation's name for a resource the template does not name: stack, logical id, 12 random
    characters (``sam-app-HelloWorldFunction-AbC123dEf456``), shortened to fit ``limit``."""
    alphabet = string.ascii_lowercase + string.digits if lowercase else string.ascii_letters + string.digits
    tail = "".join(random.choice(alphabet) for _ in range(12))
    room = limit - len(tail) - len(suffix) - 2
    stack_part = stack if len(stack) + len(logical_id) <= room else stack[: room // 2]
    name = f"{stack_part}-{logical_id[: room - len(stack_part)]}-{tail}{suffix}"
    return name.lower() if lowercase else name


def arn_name(arn: str) -> str:
    """The last part of an ARN: ``arn:aws:sqs:us-east-1:123456789012:q`` -> ``q``."""
    return str(arn).rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def arn_service(value) -> str | None:
    """``arn:aws:sqs:...`` -> ``sqs``; None for anything else."""
    parts = str(value).split(":") if isinstance(value, str) else []
    return parts[2] if len(parts) > 2 and parts[0] == "arn" else None


def referenced_type(value, plan) -> str | None:
    """The resource type a still-unresolved ``Fn::GetAtt``/``Ref`` points to, if it points to one."""
    if isinstance(value, dict) and len(value) == 1:
        key, arg = next(iter(value.items()))
        if key == "Fn::GetAtt":
            name = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
            return plan.type_of(name)
        if key == "Ref" and isinstance(arg, str):
            return plan.type_of(arg)
    return None


def tags_dict(tags) -> dict:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t["Key"]: str(t["Value"]) for t in tags or [] if isinstance(t, dict) and "Key" in t}


ACCOUNT = ACCOUNT_ID


def _kinds() -> dict[str, Kind]:
    from sandbox.sam.resources import (
        apis,
        events,
        function_urls,
        functions,
        iam,
        notifications,
        storage,
        versions,
    )

    found: dict[str, Kind] = {}
    for module in (iam, storage, notifications, functions, versions, function_urls, events, apis):
        for kind in module.KINDS:
            found[kind.type] = kind
    return found


KINDS = _kinds()

# Why a resource type is refused, where there is more to say than "not one the sandbox runs".
UNSUPPORTED = {
    "AWS::StepFunctions::StateMachine": "Step Functions state machines are not run by the sandbox",
    "AWS::Kinesis::Stream": "Kinesis streams are not part of the local endpoint",
    "AWS::CloudFormation::Stack": "nested stacks (AWS::Serverless::Application) are not run by the sandbox",
    "AWS::EFS::FileSystem": "EFS file systems are not part of the local endpoint",
    "AWS::Cognito::UserPool": "Cognito is not part of the local endpoint",
    "AWS::CloudWatch::Alarm": "CloudWatch alarms are not evaluated by the sandbox",
    "AWS::ApiGateway::Authorizer": "API Gateway authorizers are not run by the sandbox",
    "AWS::ApiGatewayV2::Authorizer": "API Gateway authorizers are not run by the sandbox",
    "AWS::ApiGateway::ApiKey": "API keys and usage plans are not enforced by the sandbox",
    "AWS::ApiGateway::UsagePlan": "API keys and usage plans are not enforced by the sandbox",
    "AWS::ApiGateway::DomainName": "custom domain names are not served by the sandbox",
    "AWS::ApiGatewayV2::DomainName": "custom domain names are not served by the sandbox",
}


def unsupported_reason(resource_type: str) -> str:
    if resource_type in UNSUPPORTED:
        return UNSUPPORTED[resource_type]
    return f"{resource_type} is not one of the resource types the sandbox runs"
