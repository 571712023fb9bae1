"""Reading a template as CloudFormation does: decode it (YAML with the short tags, or JSON), take its
parameter values, and expand the SAM transform with AWS's own ``aws-sam-translator`` (with ``Globals``).

Errors are the tools' own (cfn-lint's for a template that does not parse, the translator's for one the
transform refuses), each with its line. A local code folder (``CodeUri``, ``ContentUri``,
``DefinitionUri``) gets a placeholder S3 location that the Lambda resources map back to the folder.

More on reading templates: docs/sam-internals.md.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox import patterns
from sandbox.config import ACCOUNT_ID
from sandbox.sam.intrinsics import TemplateError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
LOCAL_CODE_BUCKET = "sandbox-local-code"
_S3_URI = re.compile(r"^s3://")


@dataclass
class ExpandedTemplate:
    """A template after the SAM transform: plain CloudFormation, plus what it came from."""

    source: str  # the file (or "template") named in messages
    text: str
    original: dict  # as decoded, keys carrying their line numbers
    expanded: dict
    parameters: dict  # name -> value (CommaDelimitedList and List<...> as lists)
    local_code: dict = field(default_factory=dict)  # (bucket, key) -> Path
    base_dir: Path = Path(".")

    @property
    def description(self) -> str:
        return str(self.original.get("Description") or "").strip()

    def line_of(self, logical_id: str) -> int | None:
        """The template line of a resource (for a resource the SAM transform made: of the one it came
        from)."""
        resources = self.original.get("Resources") or {}
        origin = self.origin(logical_id)
        for key in resources:
            if key == (origin or logical_id) and hasattr(key, "start_mark"):
                return key.start_mark.line + 1
        return None

    def origin(self, logical_id: str) -> str | None:
        """The template's own resource a generated one came from (``HelloWorldFunctionRole`` ->
        ``HelloWorldFunction``), by the translator's naming; None when the template declares it."""
        resources = self.original.get("Resources") or {}
        if logical_id in resources:
            return logical_id
        found = [key for key in resources if logical_id.startswith(str(key))]
        return str(max(found, key=len)) if found else None

    def original_type(self, logical_id: str) -> str | None:
        resource = (self.original.get("Resources") or {}).get(logical_id)
        return resource.get("Type") if isinstance(resource, dict) else None


def parse_parameter_overrides(values) -> dict[str, str]:
    """``["Stage=prod", "ParameterKey=Name,ParameterValue=x"]`` -> ``{"Stage": "prod", "Name": "x"}``: both
    forms ``sam deploy --parameter-overrides`` takes."""
    found: dict[str, str] = {}
    for item in values or []:
        for part in _split_overrides(item):
            pair = re.fullmatch(r"ParameterKey=([^,]+),ParameterValue=(.*)", part)
            key, sep, value = (pair.group(1), "=", pair.group(2)) if pair else part.partition("=")
            if not sep or not key:
                raise TemplateError(
                    f"--parameter-overrides takes Key=Value (or ParameterKey=Key,"
                    f"ParameterValue=Value); got {part!r}."
                )
            found[key.strip()] = value
    return found


def _split_overrides(text: str) -> list[str]:
    """One argument may hold several overrides separated by spaces, as with sam deploy."""
    import shlex

    try:
        return shlex.split(text)
    except ValueError:
        return [text]


def decode(text: str, source: str) -> dict:
    from cfnlint.decode import decode_str

    template, matches = decode_str(text)
    if matches:
        raise TemplateError(
            "\n".join(f"{source}:{m.linenumber}: {m.message} [cfn-lint {m.rule.id}]" for m in matches)
        )
    if not isinstance(template, dict):
        raise TemplateError(f"{source}: Template format error: the template is not a YAML or JSON object")
    if not isinstance(template.get("Resources"), dict) or not template["Resources"]:
        raise TemplateError(
            f"{source}: Template format error: At least one Resources member must be defined."
        )
    version = template.get("AWSTemplateFormatVersion")
    if isinstance(version, (dt.date, dt.datetime)):
        template["AWSTemplateFormatVersion"] = version.isoformat()
    return template


def parameter_values(template: dict, overrides: dict[str, str], source: str) -> dict[str, Any]:
    """Each declared parameter's value (override, else Default) checked as CloudFormation checks it."""
    declared = template.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"{source}: Parameters: [{', '.join(unknown)}] do not exist in the template")
    values: dict[str, Any] = {}
    missing = []
    for name, spec in declared.items():
        spec = spec or {}
        if name in overrides:
            raw = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            missing.append(str(name))
            continue
        values[str(name)] = _checked(str(name), spec, raw, source)
    if missing:
        raise TemplateError(
            f"{source}: Parameters: [{', '.join(missing)}] must have values "
            f"(give them with --parameter-overrides {missing[0]}=...)"
        )
    return values


def _checked(name: str, spec: dict, raw, source: str):
    kind = str(spec.get("Type", "String"))
    if kind.startswith("AWS::SSM::Parameter"):
        raise TemplateError(
            f"{source}: Parameter '{name}' of type {kind}: SSM parameters are not part of the "
            f"local endpoint; give the value itself with --parameter-overrides {name}=..."
        )
    text = ",".join(str(v) for v in raw) if isinstance(raw, list) else str(raw)
    is_list = kind.startswith("List<") or kind == "CommaDelimitedList"
    items = [part.strip() for part in text.split(",")] if is_list else [text]
    allowed = [str(v) for v in spec.get("AllowedValues") or []]
    for item in items:
        if allowed and item not in allowed:
            raise TemplateError(f"{source}: Parameter '{name}' must be one of AllowedValues")
        if kind in ("Number", "List<Number>"):
            try:
                number = float(item)
            except ValueError:
                raise TemplateError(f"{source}: Parameter '{name}' must be a number; got {item!r}") from None
            if (
                "MinValue" in spec
                and number < float(spec["MinValue"])
                or "MaxValue" in spec
                and number > float(spec["MaxValue"])
            ):
                raise TemplateError(
                    f"{source}: Parameter '{name}' must be a number from {spec.get('MinValue', '-inf')} "
                    f"to {spec.get('MaxValue', 'inf')}"
                )
    if "AllowedPattern" in spec and not _allowed(str(spec["AllowedPattern"]), text, name, source):
        raise TemplateError(f"{source}: Parameter '{name}' must match pattern {spec['AllowedPattern']}")
    if (
        "MinLength" in spec
        and len(text) < int(spec["MinLength"])
        or "MaxLength" in spec
        and len(text) > int(spec["MaxLength"])
    ):
        raise TemplateError(
            f"{source}: Parameter '{name}' must be from {spec.get('MinLength', 0)} to "
            f"{spec.get('MaxLength', 'any')} characters long"
        )
    return items if is_list else text


def _allowed(pattern: str, text: str, name: str, source: str) -> bool:
    """AWS reads AllowedPattern as a Java regular expression; here RE2 (linear time, sandbox/patterns.py)
    reads it, so a pattern that backtracks cannot hold the sandbox."""
    try:
        return patterns.fullmatch(pattern, text)
    except patterns.PatternError as exc:
        raise TemplateError(
            f"{source}: Parameter '{name}' has an AllowedPattern the sandbox cannot use: {exc}"
        ) from None


def _transforms(template: dict) -> list[str]:
    declared = template.get("Transform") or []
    return [str(t) for t in (declared if isinstance(declared, list) else [declared])]


def _local_code(template: dict, base_dir: Path, source: str) -> dict:
    """Replace the local paths a template's code properties hold with placeholder S3 locations; returns
    the placeholders' (bucket, key) -> folder."""
    found: dict = {}

    def placeholder(key: str, path, owner: str):
        folder = (base_dir / str(path)).resolve()
        if not folder.is_dir():
            raise TemplateError(
                f"{source}: {owner}: {path} is not a folder next to the template ({folder} does not exist)"
            )
        found[(LOCAL_CODE_BUCKET, key)] = folder
        return f"s3://{LOCAL_CODE_BUCKET}/{key}"

    def is_local(value) -> bool:
        return isinstance(value, str) and not _S3_URI.match(value)

    function_globals = (template.get("Globals") or {}).get("Function") or {}
    if is_local(function_globals.get("CodeUri")):
        function_globals["CodeUri"] = placeholder(
            "Globals", function_globals["CodeUri"], "Globals.Function.CodeUri"
        )
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict):
            continue
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if (
            kind == "AWS::Serverless::Function"
            and not {"CodeUri", "InlineCode", "ImageUri"} & set(props)
            and "CodeUri" not in function_globals
            and props.get("PackageType", "Zip") == "Zip"
        ):
            props["CodeUri"] = "."  # as SAM CLI reads it: no CodeUri is the template's own folder
            resource["Properties"] = props
        if (
            kind == "AWS::Serverless::Function"
            and is_local(props.get("CodeUri"))
            and "InlineCode" not in props
        ):
            props["CodeUri"] = placeholder(str(logical_id), props["CodeUri"], f"{logical_id}.CodeUri")
        elif kind == "AWS::Serverless::LayerVersion" and is_local(props.get("ContentUri")):
            props["ContentUri"] = placeholder(
                str(logical_id), props["ContentUri"], f"{logical_id}.ContentUri"
            )
        elif kind == "AWS::Lambda::Function" and is_local(props.get("Code")):
            url = placeholder(str(logical_id), props["Code"], f"{logical_id}.Code")
            props["Code"] = {"S3Bucket": LOCAL_CODE_BUCKET, "S3Key": url.rsplit("/", 1)[-1]}
        elif kind == "AWS::Lambda::LayerVersion" and is_local(props.get("Content")):
            url = placeholder(str(logical_id), props["Content"], f"{logical_id}.Content")
            props["Content"] = {"S3Bucket": LOCAL_CODE_BUCKET, "S3Key": url.rsplit("/", 1)[-1]}
        elif kind in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi") and is_local(
            props.get("DefinitionUri")
        ):
            definition = (base_dir / props.pop("DefinitionUri")).resolve()
            if not definition.is_file():
                raise TemplateError(f"{source}: {logical_id}.DefinitionUri: {definition} does not exist")
            props["DefinitionBody"] = decode_definition(definition)
    return found


def decode_definition(path: Path) -> dict:
    from cfnlint.decode import decode_str

    document, matches = decode_str(path.read_text(encoding="utf-8"))
    if matches:
        raise TemplateError("\n".join(f"{path}:{m.linenumber}: {m.message}" for m in matches))
    return document


def expand(
    text: str,
    *,
    source: str = "template",
    base_dir: Path | None = None,
    parameter_overrides: dict | None = None,
    stack_name: str = "sam-app",
    region: str = "us-east-1",
    local_code: bool = True,
) -> ExpandedTemplate:
    """Decode, take parameter values, expand the SAM transform. ``local_code``: whether paths on this
    machine may stand for code (``run_local.py --template``); CloudFormation's API says False, since a
    template sent to it names S3 locations (``aws cloudformation package`` makes them)."""
    original = decode(text, source)
    base_dir = Path(base_dir or ".")
    parameters = parameter_values(original, dict(parameter_overrides or {}), source)
    template = copy.deepcopy(original)
    placeholders = _local_code(template, base_dir, source) if local_code else {}
    transforms = _transforms(template)
    unknown = [t for t in transforms if t != SAM_TRANSFORM]
    if unknown:
        raise TemplateError(
            f"{source}: Transform {', '.join(unknown)}: the sandbox expands the SAM transform "
            f"({SAM_TRANSFORM}) only"
        )
    expanded = (
        _translate(template, parameters, stack_name, region, source, original) if transforms else template
    )
    expanded.pop("Transform", None)
    return ExpandedTemplate(
        source=source,
        text=text,
        original=original,
        expanded=expanded,
        parameters=parameters,
        local_code=placeholders,
        base_dir=base_dir,
    )


def _translate(
    template: dict, parameters: dict, stack_name: str, region: str, source: str, original: dict
) -> dict:
    """AWS's SAM translator, as CloudFormation runs it, with the sandbox's region and account."""
    import boto3
    from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    values = {
        **parameters,
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::StackName": stack_name,
        "AWS::Partition": "aws",
    }
    plain = json.loads(json.dumps(template, default=str))  # the translator wants plain types
    to_py27_compatible_template(plain, values)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        expanded = translator.translate(
            plain,
            parameter_values=values,
            passthrough_metadata=True,
            get_managed_policy_map=lambda: get_bundled_managed_policy_map("aws"),
        )
    except InvalidDocumentException as exc:
        raise TemplateError(_translator_message(exc, source, original)) from None
    finally:
        translator.metrics.publish()  # to its offline (dummy) publisher; unpublished ones are warned about
    return undo_mark_unicode_str_in_template(expanded)


def _translator_message(exc, source: str, original: dict) -> str:
    """The translator's messages, each with the line of the resource it names (or that made the one it
    names: ``FnMessages`` is ``Fn``'s event ``Messages``)."""
    resources = original.get("Resources") or {}
    lines = [f"{source}: {exc.message} (aws-sam-translator)"]
    for cause in exc.causes:
        logical_id = str(getattr(cause, "_logical_id", ""))
        owners = [k for k in resources if logical_id.startswith(str(k)) and hasattr(k, "start_mark")]
        line = max(owners, key=len).start_mark.line + 1 if owners else None
        lines.append(f"  {source}:{line}: {cause.message}" if line else f"  {source}: {cause.message}")
    return "\n".join(lines)
