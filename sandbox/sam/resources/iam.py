"""IAM: roles (with AWS managed and inline policies), managed policies and inline policies, created
through IAM's API. The sandbox stores them as AWS does but enforces none: a function may do what its
role would not let it do on AWS (``run_local.py deploy --least-privilege`` rehearses the real thing)."""

from __future__ import annotations

import json

from sandbox.sam.resources import Created, Kind, generated_name, tags_dict


def _document(value) -> str:
    """A policy document as IAM's API takes it. IAM accepts one without ``Version`` (SAM's policy
    templates make such documents); moto refuses them, so the sandbox states the current version."""
    if isinstance(value, str):
        return value
    return json.dumps({"Version": "2012-10-17", **value} if isinstance(value, dict) else value)


def _tag_list(tags) -> list:
    return [{"Key": k, "Value": v} for k, v in tags_dict(tags).items()]


class Role(Kind):
    type = "AWS::IAM::Role"
    properties = frozenset(
        {
            "AssumeRolePolicyDocument",
            "ManagedPolicyArns",
            "Policies",
            "RoleName",
            "Path",
            "Description",
            "MaxSessionDuration",
            "PermissionsBoundary",
            "Tags",
        }
    )
    name_property = "RoleName"

    def create(self, logical_id, props, ctx) -> Created:
        iam = ctx.client("iam")
        request = {
            "RoleName": ctx.name,
            "AssumeRolePolicyDocument": _document(props["AssumeRolePolicyDocument"]),
            "Path": props.get("Path", "/"),
        }
        for key in ("Description", "PermissionsBoundary"):
            if key in props:
                request[key] = props[key]
        if "MaxSessionDuration" in props:
            request["MaxSessionDuration"] = int(props["MaxSessionDuration"])
        if props.get("Tags"):
            request["Tags"] = _tag_list(props["Tags"])
        role = iam.create_role(**request)["Role"]
        managed = [str(arn) for arn in props.get("ManagedPolicyArns") or []]
        ctx.load_managed_policies(managed)
        for arn in managed:
            iam.attach_role_policy(RoleName=ctx.name, PolicyArn=arn)
        inline = []
        for policy in props.get("Policies") or []:
            iam.put_role_policy(
                RoleName=ctx.name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=_document(policy["PolicyDocument"]),
            )
            inline.append(policy["PolicyName"])
        return Created(
            ctx.name,
            ctx.name,
            {"Arn": role["Arn"], "RoleId": role["RoleId"]},
            {"managed": managed, "inline": inline},
        )

    def delete(self, created, ctx) -> None:
        iam = ctx.client("iam")
        for arn in created.extra.get("managed", []):
            iam.detach_role_policy(RoleName=created.physical_id, PolicyArn=arn)
        for name in created.extra.get("inline", []):
            iam.delete_role_policy(RoleName=created.physical_id, PolicyName=name)
        iam.delete_role(RoleName=created.physical_id)


class ManagedPolicy(Kind):
    type = "AWS::IAM::ManagedPolicy"
    properties = frozenset({"PolicyDocument", "ManagedPolicyName", "Path", "Description", "Roles"})
    name_property = "ManagedPolicyName"

    def create(self, logical_id, props, ctx) -> Created:
        iam = ctx.client("iam")
        request = {
            "PolicyName": ctx.name,
            "PolicyDocument": _document(props["PolicyDocument"]),
            "Path": props.get("Path", "/"),
        }
        if "Description" in props:
            request["Description"] = props["Description"]
        arn = iam.create_policy(**request)["Policy"]["Arn"]
        roles = [str(r) for r in props.get("Roles") or []]
        for role in roles:
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        return Created(arn, arn, {"PolicyArn": arn}, {"roles": roles})

    def delete(self, created, ctx) -> None:
        iam = ctx.client("iam")
        for role in created.extra.get("roles", []):
            iam.detach_role_policy(RoleName=role, PolicyArn=created.physical_id)
        iam.delete_policy(PolicyArn=created.physical_id)


class Policy(Kind):
    type = "AWS::IAM::Policy"
    properties = frozenset({"PolicyDocument", "PolicyName", "Roles"})

    def create(self, logical_id, props, ctx) -> Created:
        iam = ctx.client("iam")
        roles = [str(r) for r in props.get("Roles") or []]
        for role in roles:
            iam.put_role_policy(
                RoleName=role,
                PolicyName=props["PolicyName"],
                PolicyDocument=_document(props["PolicyDocument"]),
            )
        name = generated_name(ctx.stack_name, logical_id, 64)
        return Created(name, name, {}, {"roles": roles, "policy": props["PolicyName"]})

    def delete(self, created, ctx) -> None:
        for role in created.extra.get("roles", []):
            ctx.client("iam").delete_role_policy(RoleName=role, PolicyName=created.extra["policy"])


KINDS = (Role(), ManagedPolicy(), Policy())
