"""Function versions and aliases (``AWS::Lambda::Version``, ``AWS::Lambda::Alias``: what SAM's
``AutoPublishAlias`` becomes), made through Lambda's ``publish-version`` and ``create-alias`` on the local
endpoint, so the alias runs its version's frozen code. SAM's ``DeploymentPreference`` becomes CodeDeploy
resources, which are accepted and noted: the sandbox moves the alias to the new version at once."""

from __future__ import annotations

from sandbox.sam.resources import Created, Kind

PROVISIONED = "provisioned concurrency is not run by the sandbox: every environment starts on demand"
DEPLOYMENT = (
    "CodeDeploy's gradual traffic shifting (SAM's DeploymentPreference) is not run by the sandbox: the "
    "alias moves to the new version at once, as with no DeploymentPreference; its hooks and alarms are "
    "not run"
)


def _routing(props: dict) -> dict:
    """CloudFormation's ``[{FunctionVersion, FunctionWeight}]`` as Lambda's ``AdditionalVersionWeights``
    (``{}``: no routing)."""
    weights = (props.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or []
    found = {str(w["FunctionVersion"]): float(w["FunctionWeight"]) for w in weights}
    return {"AdditionalVersionWeights": found} if found else {}


class Version(Kind):
    type = "AWS::Lambda::Version"
    properties = frozenset({"FunctionName", "Description", "CodeSha256"})
    noted = {
        "ProvisionedConcurrencyConfig": PROVISIONED,
        "RuntimePolicy": "the sandbox runs its own runtime version",
    }

    def create(self, logical_id, props, ctx) -> Created:
        request = {"FunctionName": props["FunctionName"]}
        for key in ("Description", "CodeSha256"):
            if key in props:
                request[key] = props[key]
        found = ctx.client("lambda").publish_version(**request)
        return Created(
            found["FunctionArn"],
            found["FunctionArn"],
            {"Version": found["Version"], "FunctionArn": found["FunctionArn"]},
            {"function": props["FunctionName"], "version": found["Version"]},
        )

    def delete(self, created, ctx) -> None:
        # SAM writes DeletionPolicy: Retain on its versions (they stay); a template's own one goes.
        from botocore.exceptions import ClientError

        try:
            ctx.client("lambda").delete_function(
                FunctionName=created.extra["function"], Qualifier=created.extra["version"]
            )
        except ClientError:
            pass  # an alias still names it, or the function is gone: as CloudFormation, leave it


class Alias(Kind):
    type = "AWS::Lambda::Alias"
    properties = frozenset({"FunctionName", "FunctionVersion", "Name", "Description", "RoutingConfig"})
    noted = {"ProvisionedConcurrencyConfig": PROVISIONED}

    def check(self, logical_id, props, plan) -> list[str]:
        if (plan.resources.get(logical_id) or {}).get("UpdatePolicy"):
            plan.note(logical_id, f"UpdatePolicy: {DEPLOYMENT}")
        return []

    def _request(self, props: dict, updating: bool = False) -> dict:
        request = {"FunctionVersion": str(props["FunctionVersion"])}
        if _routing(props) or updating:  # an update without one removes the routing
            request["RoutingConfig"] = _routing(props)
        if "Description" in props:
            request["Description"] = props["Description"]
        return request

    def create(self, logical_id, props, ctx) -> Created:
        found = ctx.client("lambda").create_alias(
            FunctionName=props["FunctionName"], Name=props["Name"], **self._request(props)
        )
        return Created(
            found["AliasArn"],
            found["AliasArn"],
            {"AliasArn": found["AliasArn"]},
            {"function": props["FunctionName"], "name": props["Name"]},
        )

    updatable = frozenset({"FunctionVersion", "Description", "RoutingConfig"})

    def update(self, logical_id, created, props, ctx) -> Created:
        ctx.client("lambda").update_alias(
            FunctionName=created.extra["function"],
            Name=created.extra["name"],
            **self._request(props, updating=True),
        )
        return created

    def delete(self, created, ctx) -> None:
        from botocore.exceptions import ClientError

        try:
            ctx.client("lambda").delete_alias(
                FunctionName=created.extra["function"], Name=created.extra["name"]
            )
        except ClientError:
            pass  # gone with its function


class _Every(frozenset):
    """Every property is accepted: the resource has no effect here, whatever it says."""

    def __contains__(self, item) -> bool:
        return True


class CodeDeploy(Kind):
    """CodeDeploy's application and deployment group, which SAM's DeploymentPreference makes."""

    properties = _Every()

    def __init__(self, resource_type: str):
        self.type = resource_type

    def check(self, logical_id, props, plan) -> list[str]:
        plan.note(
            logical_id, "CodeDeploy is not run by the sandbox (SAM's DeploymentPreference; see the alias)"
        )
        return []

    def create(self, logical_id, props, ctx) -> Created:
        return Created(logical_id, logical_id)


KINDS = (
    Version(),
    Alias(),
    CodeDeploy("AWS::CodeDeploy::Application"),
    CodeDeploy("AWS::CodeDeploy::DeploymentGroup"),
)
