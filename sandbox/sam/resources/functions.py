"""Lambda: functions, layers, permissions, event source mappings and event-invoke configurations,
through Lambda's API on the local endpoint.

A function whose code is a folder on this machine (``CodeUri: hello_world/``) runs from that folder: the
sandbox registers it before ``create-function`` reaches the API (as it does its own function), so the
API stores it and the sandbox runs the folder itself, with hot reload. Code from S3 (a template made by
``aws cloudformation package`` or ``sam package``) or inline (``InlineCode``) goes to ``create-function``
as a zip and runs unpacked, as any function created through the API. Either way imports are those of
AWS: the function's code, its layers, and the runtime's boto3.
"""

from __future__ import annotations

import io
import zipfile

from sandbox.config import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, FunctionConfiguration
from sandbox.lambda_.packaging import function_zip_bytes
from sandbox.lambda_.runtimes import NODE_RUNTIMES, PROVIDED_RUNTIMES, is_node, is_provided
from sandbox.sam.resources import ACCOUNT, Created, Kind, arn_name, arn_service, referenced_type, tags_dict
from sandbox.sam.resources.storage import queue_or_stream_source

NO_EFFECT = {
    "TracingConfig": "X-Ray traces are not collected; the function runs the same",
    "KmsKeyArn": "environment variables are not encrypted by the sandbox",
    "VpcConfig": "the function runs on this machine's network, not in a VPC",
    "EphemeralStorage": "/tmp is a folder of this machine, not held to the configured size",
    "LoggingConfig": "logs go to /aws/lambda/<name> in the text format, whatever the configuration",
    "RuntimeManagementConfig": "the runtime is the Python that runs the sandbox",
    "SnapStart": "there is no SnapStart here: every cold start runs INIT",
}


def _zip_inline(source: str) -> bytes:
    """``ZipFile`` code (SAM's ``InlineCode``): Lambda stores it as ``index.py`` for Python runtimes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("index.py", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o100644) << 16
        archive.writestr(info, source)
    return buffer.getvalue()


def _is_own_account_layer(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) >= 8 and parts[4] in (ACCOUNT, "")


class Function(Kind):
    type = "AWS::Lambda::Function"
    properties = frozenset(
        {
            "Code",
            "Handler",
            "Runtime",
            "Role",
            "MemorySize",
            "Timeout",
            "Environment",
            "Layers",
            "Architectures",
            "DeadLetterConfig",
            "FunctionName",
            "Description",
            "Tags",
            "ReservedConcurrentExecutions",
            "PackageType",
            "RecursiveLoop",
        }
    )
    noted = NO_EFFECT
    name_property = "FunctionName"

    def check(self, logical_id, props, plan) -> list[str]:
        problems = []
        code = props.get("Code") or {}
        if props.get("PackageType", "Zip") != "Zip" or (isinstance(code, dict) and "ImageUri" in code):
            problems.append("PackageType Image: the sandbox runs zip functions only, not container images")
        runtime = props.get("Runtime")
        if isinstance(runtime, str) and not (
            runtime.startswith("python3") or is_node(runtime) or is_provided(runtime)
        ):
            problems.append(
                f"Runtime {runtime}: the sandbox runs python3.x, {', '.join(NODE_RUNTIMES)} and "
                f"{', '.join(PROVIDED_RUNTIMES)} functions"
            )
        target = (props.get("DeadLetterConfig") or {}).get("TargetArn")
        if (
            target is not None
            and referenced_type(target, plan) not in (None, "AWS::SQS::Queue")
            or (isinstance(target, str) and arn_service(target) != "sqs")
        ):
            problems.append(
                "DeadLetterConfig: only SQS queues receive dead letters here (SNS is not part of the "
                "local endpoint)"
            )
        for layer in props.get("Layers") or []:
            if isinstance(layer, str) and not _is_own_account_layer(layer):
                problems.append(
                    f"Layers: {layer} is a layer of another account, which can't be downloaded here; "
                    f"list its packages in the function's requirements.txt or a layer folder instead"
                )
        return problems

    def create(self, logical_id, props, ctx) -> Created:
        lam, name = ctx.client("lambda"), ctx.name
        code = props["Code"]
        folder = ctx.local_folder(code)
        layer_arns = [str(arn) for arn in props.get("Layers") or []]
        environment = {
            str(k): v if isinstance(v, str) else str(v)
            for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()
        }
        request = {
            "FunctionName": name,
            "Runtime": props["Runtime"],
            "Role": props["Role"],
            "Handler": props["Handler"],
            "PackageType": "Zip",
            "MemorySize": int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
            "Timeout": int(props.get("Timeout", DEFAULT_TIMEOUT_S)),
            "Environment": {"Variables": environment},
            "Architectures": props.get("Architectures") or ["x86_64"],
        }
        if layer_arns:
            request["Layers"] = layer_arns
        if props.get("DeadLetterConfig"):
            request["DeadLetterConfig"] = {"TargetArn": props["DeadLetterConfig"]["TargetArn"]}
        if "Description" in props:
            request["Description"] = props["Description"]
        if props.get("Tags"):
            request["Tags"] = tags_dict(props["Tags"])
        if folder is not None:
            requirements = ctx.stage_requirements(logical_id, folder)
            layers = tuple(requirements) + tuple(d for arn in layer_arns for d in ctx.layer_dirs(arn))
            function = FunctionConfiguration(
                function_name=name,
                handler=props["Handler"],
                code_dir=folder,
                runtime=props["Runtime"],
                memory_size=request["MemorySize"],
                timeout=request["Timeout"],
                environment=environment,
                architecture=request["Architectures"][0],
                layers=layers,
                role_arn=props["Role"],
                strict_imports=True,
                dead_letter_queue=arn_name(request["DeadLetterConfig"]["TargetArn"])
                if "DeadLetterConfig" in request
                else None,
                **(
                    {"reserved_concurrency": int(props["ReservedConcurrentExecutions"])}
                    if "ReservedConcurrentExecutions" in props
                    else {}
                ),
            )
            ctx.register_function(function, folder, layer_arns)
            request["Code"] = {"ZipFile": function_zip_bytes(folder)}
        elif isinstance(code, dict) and "ZipFile" in code:
            request["Code"] = {"ZipFile": _zip_inline(code["ZipFile"])}
        else:
            request["Code"] = {
                "ZipFile": ctx.read_s3(code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"))
            }
        try:
            arn = lam.create_function(**request)["FunctionArn"]
        except Exception:
            ctx.unregister_function(name)
            raise
        if "ReservedConcurrentExecutions" in props:
            lam.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"])
            )
        if props.get("RecursiveLoop"):
            lam.put_function_recursion_config(FunctionName=name, RecursiveLoop=props["RecursiveLoop"])
        return Created(name, name, {"Arn": arn}, {"folder": str(folder) if folder else None})

    def delete(self, created, ctx) -> None:
        ctx.client("lambda").delete_function(FunctionName=created.physical_id)

    updatable = properties - {"FunctionName", "PackageType"}

    def update(self, logical_id, created, props, ctx) -> Created:
        """A redeploy: the new code (``update-function-code``) and configuration, as CloudFormation does."""
        lam, name = ctx.client("lambda"), created.physical_id
        code = props["Code"]
        folder = ctx.local_folder(code)
        if folder is not None:
            package = function_zip_bytes(folder)
        elif "ZipFile" in code:
            package = _zip_inline(code["ZipFile"])
        else:
            package = ctx.read_s3(code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"))
        lam.update_function_code(FunctionName=name, ZipFile=package)
        request = {
            "FunctionName": name,
            "Runtime": props["Runtime"],
            "Role": props["Role"],
            "Handler": props["Handler"],
            "MemorySize": int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
            "Timeout": int(props.get("Timeout", DEFAULT_TIMEOUT_S)),
            "Environment": {
                "Variables": {
                    str(k): str(v)
                    for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()
                }
            },
            "Layers": [str(arn) for arn in props.get("Layers") or []],
            "Description": props.get("Description", ""),
        }
        if props.get("DeadLetterConfig"):
            request["DeadLetterConfig"] = {"TargetArn": props["DeadLetterConfig"]["TargetArn"]}
        lam.update_function_configuration(**request)
        if "ReservedConcurrentExecutions" in props:
            lam.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"])
            )
        return created


class LayerVersion(Kind):
    type = "AWS::Lambda::LayerVersion"
    properties = frozenset(
        {
            "Content",
            "LayerName",
            "CompatibleRuntimes",
            "CompatibleArchitectures",
            "Description",
            "LicenseInfo",
        }
    )

    def create(self, logical_id, props, ctx) -> Created:
        content = props["Content"]
        folder = ctx.local_folder(content)
        request = {"LayerName": props.get("LayerName") or logical_id}
        for key in ("CompatibleRuntimes", "CompatibleArchitectures", "Description", "LicenseInfo"):
            if key in props:
                request[key] = props[key]
        if folder is not None:
            dirs = ctx.stage_layer(logical_id, folder)
            # The API keeps the layer's own files (its python/ tree); the packages that stand in for its
            # build stay linked where the function sees them.
            request["Content"] = {"ZipFile": function_zip_bytes(dirs[0])}
        else:
            request["Content"] = {
                "ZipFile": ctx.read_s3(content["S3Bucket"], content["S3Key"], content.get("S3ObjectVersion"))
            }
            dirs = None
        arn = ctx.client("lambda").publish_layer_version(**request)["LayerVersionArn"]
        ctx.add_layer(arn, dirs)
        return Created(
            arn,
            arn,
            {"LayerVersionArn": arn},
            {"name": request["LayerName"], "version": arn.rsplit(":", 1)[-1]},
        )

    def delete(self, created, ctx) -> None:
        ctx.client("lambda").delete_layer_version(
            LayerName=created.extra["name"], VersionNumber=int(created.extra["version"])
        )


class Permission(Kind):
    type = "AWS::Lambda::Permission"
    properties = frozenset(
        {
            "Action",
            "FunctionName",
            "Principal",
            "SourceArn",
            "SourceAccount",
            "EventSourceToken",
            "PrincipalOrgID",
            "FunctionUrlAuthType",
            "InvokedViaFunctionUrl",
        }
    )

    def create(self, logical_id, props, ctx) -> Created:
        from sandbox.sam.resources import generated_name

        statement = generated_name(ctx.stack_name, logical_id, 100)
        request = {
            "FunctionName": props["FunctionName"],
            "StatementId": statement,
            "Action": props["Action"],
            "Principal": props["Principal"],
        }
        for key in (
            "SourceArn",
            "SourceAccount",
            "EventSourceToken",
            "PrincipalOrgID",
            "FunctionUrlAuthType",
        ):
            if key in props:
                request[key] = str(props[key])
        if "InvokedViaFunctionUrl" in props:
            request["InvokedViaFunctionUrl"] = str(props["InvokedViaFunctionUrl"]).lower() == "true"
        ctx.client("lambda").add_permission(**request)
        return Created(statement, statement, {}, {"function": props["FunctionName"]})

    def delete(self, created, ctx) -> None:
        ctx.client("lambda").remove_permission(
            FunctionName=created.extra["function"], StatementId=created.physical_id
        )


_MAPPING_FIELDS = (
    "FunctionName",
    "EventSourceArn",
    "BatchSize",
    "Enabled",
    "StartingPosition",
    "StartingPositionTimestamp",
    "MaximumBatchingWindowInSeconds",
    "FilterCriteria",
    "FunctionResponseTypes",
    "DestinationConfig",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "Tags",
)
_INTEGERS = {
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
}


class EventSourceMapping(Kind):
    type = "AWS::Lambda::EventSourceMapping"
    properties = frozenset(_MAPPING_FIELDS)
    noted = {
        "ParallelizationFactor": "one poller per stream shard here, whatever the factor",
        "ScalingConfig": "one poller per mapping here (AWS scales out)",
        "MetricsConfig": "event source mapping metrics are not published by the sandbox",
    }

    def check(self, logical_id, props, plan) -> list[str]:
        if "EventSourceArn" in props and queue_or_stream_source(props["EventSourceArn"], plan) is None:
            return [
                "EventSourceArn: the sandbox polls SQS queues and DynamoDB streams only (not Kinesis, Kafka, "
                "MQ or DocumentDB)"
            ]
        return []

    @staticmethod
    def _request(props: dict) -> dict:
        request = {}
        for key in _MAPPING_FIELDS:
            if key in props:
                value = props[key]
                request[key] = (
                    int(value)
                    if key in _INTEGERS
                    else (
                        str(value).lower() == "true"
                        if key in ("Enabled", "BisectBatchOnFunctionError")
                        else value
                    )
                )
        if "Tags" in request:
            request["Tags"] = tags_dict(request["Tags"])
        return request

    def create(self, logical_id, props, ctx) -> Created:
        found = ctx.client("lambda").create_event_source_mapping(**self._request(props))
        return Created(
            found["UUID"],
            found["UUID"],
            {
                "Id": found["UUID"],
                "EventSourceMappingArn": (
                    f"arn:aws:lambda:{ctx.region}:{ACCOUNT}:event-source-mapping:{found['UUID']}"
                ),
            },
        )

    def delete(self, created, ctx) -> None:
        ctx.client("lambda").delete_event_source_mapping(UUID=created.physical_id)

    updatable = properties - {"EventSourceArn", "StartingPosition", "StartingPositionTimestamp", "Tags"}

    def update(self, logical_id, created, props, ctx) -> Created:
        request = self._request(props)
        for key in ("EventSourceArn", "StartingPosition", "StartingPositionTimestamp", "Tags"):
            request.pop(key, None)
        ctx.client("lambda").update_event_source_mapping(UUID=created.physical_id, **request)
        return created


class EventInvokeConfig(Kind):
    type = "AWS::Lambda::EventInvokeConfig"
    properties = frozenset(
        {"FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"}
    )

    def check(self, logical_id, props, plan) -> list[str]:
        problems = []
        if props.get("Qualifier", "$LATEST") != "$LATEST":
            problems.append(f"Qualifier {props['Qualifier']}: the sandbox runs $LATEST only")
        destinations = props.get("DestinationConfig") or {}
        kinds = (None, "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::Lambda::Function", "AWS::Events::EventBus")
        services = ("sqs", "sns", "lambda", "events")
        for key in ("OnSuccess", "OnFailure"):
            target = (destinations.get(key) or {}).get("Destination")
            failure = key == "OnFailure"  # an S3 bucket takes on-failure records only
            if target is not None and (
                referenced_type(target, plan) not in kinds + (("AWS::S3::Bucket",) if failure else ())
                or isinstance(target, str)
                and arn_service(target) not in services + (("s3",) if failure else ())
            ):
                problems.append(
                    f"DestinationConfig.{key}: records go to SQS queues, SNS topics, Lambda "
                    f"functions and EventBridge event buses" + (" (and S3 buckets)" if failure else "")
                )
        return problems

    def create(self, logical_id, props, ctx) -> Created:
        request = {"FunctionName": props["FunctionName"]}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in props:
                request[key] = int(props[key])
        if props.get("DestinationConfig"):
            request["DestinationConfig"] = props["DestinationConfig"]
        ctx.client("lambda").put_function_event_invoke_config(**request)
        name = f"{props['FunctionName']}-invoke-config"
        return Created(name, name)


KINDS = (Function(), LayerVersion(), Permission(), EventSourceMapping(), EventInvokeConfig())
