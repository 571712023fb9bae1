"""Function URLs (``AWS::Lambda::Url``, what SAM's ``FunctionUrlConfig`` becomes), created through Lambda's
``create-function-url-config`` on the local endpoint; ``Fn::GetAtt`` gives the local ``FunctionUrl``."""

from __future__ import annotations

from sandbox.sam.resources import Created, Kind


class Url(Kind):
    type = "AWS::Lambda::Url"
    properties = frozenset({"TargetFunctionArn", "AuthType", "Cors", "InvokeMode", "Qualifier"})

    def check(self, logical_id, props, plan) -> list[str]:
        problems = []
        return problems

    @staticmethod
    def _request(props: dict) -> dict:
        request = {"AuthType": props["AuthType"]}
        for key in ("Cors", "InvokeMode"):
            if key in props:
                request[key] = props[key]
        return request

    def create(self, logical_id, props, ctx) -> Created:
        function = props["TargetFunctionArn"]
        # An alias's own URL (SAM: FunctionUrlConfig with AutoPublishAlias) runs the alias's version.
        qualifier = {"Qualifier": props["Qualifier"]} if props.get("Qualifier") else {}
        found = ctx.client("lambda").create_function_url_config(
            FunctionName=function, **qualifier, **self._request(props)
        )
        return Created(
            found["FunctionArn"],
            found["FunctionArn"],
            {"FunctionArn": found["FunctionArn"], "FunctionUrl": found["FunctionUrl"]},
            {"function": function, **qualifier},
        )

    @staticmethod
    def _target(created) -> dict:
        qualifier = created.extra.get("Qualifier")
        return {"FunctionName": created.extra["function"], **({"Qualifier": qualifier} if qualifier else {})}

    def delete(self, created, ctx) -> None:
        ctx.client("lambda").delete_function_url_config(**self._target(created))

    updatable = frozenset({"AuthType", "Cors", "InvokeMode"})

    def update(self, logical_id, created, props, ctx) -> Created:
        request = self._request(props)
        request.setdefault("Cors", {})  # a Cors removed from the template goes from the URL
        found = ctx.client("lambda").update_function_url_config(**self._target(created), **request)
        created.attributes["FunctionUrl"] = found["FunctionUrl"]
        return created


KINDS = (Url(),)
