"""A state directory keeps versions and aliases: after a restart an alias still runs its version's frozen
code, its routing weights still apply, and the next version number is not one given before."""

import io
import json
import zipfile

from helpers.paths import HANDLERS, PROJECT_ROOT
from sandbox.config import FunctionConfiguration, SandboxConfig
from sandbox.core import Sandbox

SOURCE = (HANDLERS / "versions" / "app.py").read_text()


def _code(tag: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", SOURCE.replace('CODE = "one"', f'CODE = "{tag}"'))
    return buffer.getvalue()


def _sandbox(state_dir):
    return Sandbox(
        SandboxConfig(port=0, web_port=None, state_dir=str(state_dir), full_cpu=True),
        FunctionConfiguration(code_dir=PROJECT_ROOT / "handler"),
    ).start()


def test_versions_and_aliases_survive_a_restart(tmp_path):
    sb = _sandbox(tmp_path / "state")
    try:
        lam = sb.client("lambda")
        lam.create_function(
            FunctionName="kept",
            Runtime="python3.12",
            Role=sb.function.role_arn,
            Handler="app.handler",
            Code={"ZipFile": _code("one")},
        )
        lam.publish_version(FunctionName="kept")
        lam.update_function_code(FunctionName="kept", ZipFile=_code("two"))
        lam.publish_version(FunctionName="kept")
        lam.delete_function(FunctionName="kept", Qualifier="2")
        lam.update_function_code(FunctionName="kept", ZipFile=_code("three"))
        lam.publish_version(FunctionName="kept")  # 3
        lam.create_alias(
            FunctionName="kept",
            Name="live",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"3": 1.0}},
        )
    finally:
        sb.stop()

    sb = _sandbox(tmp_path / "state")
    try:
        lam = sb.client("lambda")
        versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="kept")["Versions"]]
        assert versions == ["$LATEST", "1", "3"]
        alias = lam.get_alias(FunctionName="kept", Name="live")
        assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"3": 1.0}}
        response = lam.invoke(FunctionName="kept", Qualifier="live")  # weight 1.0: always version 3
        assert response["ExecutedVersion"] == "3"
        assert json.loads(response["Payload"].read())["code"] == "three"
        response = lam.invoke(FunctionName="kept", Qualifier="1")
        assert json.loads(response["Payload"].read())["code"] == "one"
        lam.update_function_code(FunctionName="kept", ZipFile=_code("four"))
        assert lam.publish_version(FunctionName="kept")["Version"] == "4"
    finally:
        sb.stop()
