"""What invokes each function of a created stack, read from the resources as created (so a plain
CloudFormation template shows its triggers as a SAM one does): bucket notifications, event source
mappings, scheduled and event-pattern rules, schedules, API routes with their local URLs."""

from __future__ import annotations

import json
from collections import defaultdict

from sandbox.sam.resources import arn_name
from sandbox.sam.resources.apis import _operations, _route_key


def function_name(value) -> str:
    """A function named by name or ARN (``arn:aws:lambda:...:function:Name``), or in an API Gateway
    integration URI (``.../functions/<ARN>/invocations``)."""
    text = str(value)
    return text.split(":function:", 1)[1].split(":")[0].split("/")[0] if ":function:" in text else text


def _table(stream_arn: str) -> str:
    return stream_arn.split(":table/", 1)[1].split("/")[0] if ":table/" in stream_arn else stream_arn


def _stages(plan) -> dict:
    """API id -> its stage names: the stages the template declares, then those its deployments made
    (SAM's deployment makes a stage named "Stage" besides the declared "Prod")."""
    found: dict = defaultdict(list)
    created = [n for n in plan.order if n in plan.created]
    for name in created:
        props, kind = plan.props[name], plan.type_of(name)
        if kind == "AWS::ApiGateway::Stage":
            found[props["RestApiId"]].append(props["StageName"])
        elif kind == "AWS::ApiGatewayV2::Stage":
            found[props["ApiId"]].append(props["StageName"])
    for name in created:
        props = plan.props[name]
        if (
            plan.type_of(name) == "AWS::ApiGateway::Deployment"
            and props.get("StageName")
            and props["StageName"] not in found[props["RestApiId"]]
        ):
            found[props["RestApiId"]].append(props["StageName"])
    return found


def _url(api: str, stage: str, path: str, port: int) -> str:
    base = f"http://{api}.execute-api.localhost:{port}"
    path = "/" if path in ("$default", "/$default") else path
    return base + ("" if stage == "$default" else f"/{stage}") + path


def triggers_by_function(plan, port: int) -> dict[str, list[dict]]:
    """Function name -> its triggers, each ``{"type", "source", "summary", ...}``."""
    found: dict = defaultdict(list)
    stages = _stages(plan)
    integrations = {
        plan.created[n].physical_id: plan.props[n].get("IntegrationUri")
        for n in plan.order
        if n in plan.created and plan.type_of(n) == "AWS::ApiGatewayV2::Integration"
    }
    for name in plan.order:
        if name not in plan.created:
            continue
        kind, props, created = plan.type_of(name), plan.props[name], plan.created[name]
        if kind == "AWS::S3::Bucket":
            for config in (props.get("NotificationConfiguration") or {}).get("LambdaConfigurations") or []:
                rules = ((config.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
                detail = ", ".join([config["Event"]] + [f"{r['Name']} {r['Value']}" for r in rules])
                found[function_name(config["Function"])].append(
                    {
                        "type": "S3",
                        "source": f"s3://{created.physical_id}",
                        "events": [config["Event"]],
                        "filter": rules,
                        "summary": f"S3 s3://{created.physical_id} ({detail})",
                    }
                )
        elif kind == "AWS::SNS::Subscription" and props.get("Protocol") == "lambda":
            topic = arn_name(props["TopicArn"])
            found[function_name(props["Endpoint"])].append(
                {
                    "type": "SNS",
                    "source": topic,
                    "filter": props.get("FilterPolicy"),
                    "summary": f"SNS topic {topic}",
                }
            )
        elif kind == "AWS::Lambda::EventSourceMapping":
            arn = str(props["EventSourceArn"])
            if ":sqs:" in arn:
                trigger = {"type": "SQS", "source": arn_name(arn), "summary": f"SQS queue {arn_name(arn)}"}
            else:
                trigger = {
                    "type": "DynamoDB",
                    "source": _table(arn),
                    "summary": f"DynamoDB stream of table {_table(arn)}",
                }
            trigger.update(mapping=created.physical_id, batch_size=props.get("BatchSize"))
            found[function_name(props["FunctionName"])].append(trigger)
        elif kind == "AWS::Events::Rule":
            for target in props.get("Targets") or []:
                if ":function:" in str(target.get("Arn")) and "ScheduleExpression" not in props:
                    pattern = props.get("EventPattern")
                    if not isinstance(pattern, str):
                        pattern = json.dumps(pattern, separators=(",", ":"))
                    bus = props.get("EventBusName") or "default"
                    found[function_name(target["Arn"])].append(
                        {
                            "type": "EventBridgeRule",
                            "source": created.physical_id,
                            "pattern": pattern,
                            "summary": f"EventBridge rule {created.physical_id} on bus {bus} {pattern}",
                        }
                    )
                elif ":function:" in str(target.get("Arn")):
                    found[function_name(target["Arn"])].append(
                        {
                            "type": "Schedule",
                            "source": created.physical_id,
                            "schedule": props["ScheduleExpression"],
                            "summary": (
                                f"EventBridge rule {created.physical_id} {props['ScheduleExpression']}"
                            ),
                        }
                    )
        elif kind == "AWS::Scheduler::Schedule":
            target = props.get("Target") or {}
            if ":function:" in str(target.get("Arn")):
                found[function_name(target["Arn"])].append(
                    {
                        "type": "ScheduleV2",
                        "source": created.physical_id,
                        "schedule": props["ScheduleExpression"],
                        "summary": (
                            f"EventBridge Scheduler schedule {created.physical_id} "
                            f"{props['ScheduleExpression']}"
                        ),
                    }
                )
        elif kind in ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"):
            http = kind == "AWS::ApiGatewayV2::Api"
            for path, method, operation in sorted(_operations(props.get("Body") or {})):
                uri = (operation.get("x-amazon-apigateway-integration") or {}).get("uri", "")
                route = _route_key(method, path)
                urls = [_url(created.physical_id, s, path, port) for s in stages.get(created.physical_id, [])]
                found[function_name(uri)].append(
                    {
                        "type": "HttpApi" if http else "Api",
                        "source": created.physical_id,
                        "route": route,
                        "urls": urls,
                        "summary": f"{'HTTP API' if http else 'REST API'} {created.physical_id} {route}"
                        + (f" -> {urls[0]}" if urls else ""),
                    }
                )
        elif kind == "AWS::ApiGateway::Method":
            uri = (props.get("Integration") or {}).get("Uri", "")
            found[function_name(uri)].append(
                {
                    "type": "Api",
                    "source": props["RestApiId"],
                    "route": f"{props['HttpMethod']} (resource {props['ResourceId']})",
                    "urls": [],
                    "summary": (
                        f"REST API {props['RestApiId']} {props['HttpMethod']} on resource "
                        f"{props['ResourceId']}"
                    ),
                }
            )
        elif kind == "AWS::ApiGatewayV2::Route":
            target = str(props.get("Target") or "")
            uri = integrations.get(target.split("/", 1)[-1]) if target.startswith("integrations/") else None
            if uri:
                found[function_name(uri)].append(
                    {
                        "type": "HttpApi",
                        "source": props["ApiId"],
                        "route": props["RouteKey"],
                        "urls": [],
                        "summary": f"HTTP API {props['ApiId']} {props['RouteKey']}",
                    }
                )
    return dict(found)
