"""What a resource needs while it is created: the local endpoint's clients, its physical name, the code
folders, and the sandbox's hooks for functions that run from a folder (the same ones its own function
uses: register before the API hears of it, layers as folders, hot reload)."""

from __future__ import annotations

from pathlib import Path

from sandbox.sam import build
from sandbox.sam.intrinsics import TemplateError
from sandbox.sam.resources import KINDS


class Deployment:
    def __init__(self, stack, sandbox):
        self.stack = stack
        self.sandbox = sandbox
        self.plan = stack.plan
        self.stack_name = stack.name
        self.region = stack.region
        self.logical_id = ""
        self.name: str | None = None
        self.warnings: list[str] = []
        self.watched: dict[Path, set[str]] = {}  # folder -> the functions that run its code
        self._layers: dict[str, list | None] = {}  # layer version ARN -> its folders (None: from S3)
        self._layer_sources: dict[str, Path] = {}

    def begin(self, logical_id: str, props: dict) -> None:
        """The next resource to create; ``name`` is its physical name (given, or CloudFormation-style)."""
        self.logical_id = logical_id
        kind = KINDS[self.plan.type_of(logical_id)]
        given = props.get(kind.name_property) if kind.name_property else None
        self.name = str(given) if isinstance(given, str) else self.plan.names.get(logical_id)

    def client(self, service: str):
        return self.sandbox.shared_client(service)

    # -- code ------------------------------------------------------------------------------------------
    def local_folder(self, code) -> Path | None:
        if isinstance(code, dict) and "S3Bucket" in code:
            return self.stack.template.local_code.get((code["S3Bucket"], code.get("S3Key")))
        return None

    def read_s3(self, bucket: str, key: str, version: str | None = None) -> bytes:
        from botocore.exceptions import ClientError

        try:
            found = self.client("s3").get_object(
                Bucket=bucket, Key=key, **({"VersionId": version} if version else {})
            )
        except ClientError:
            raise TemplateError(
                f"the code s3://{bucket}/{key} is not in the sandbox's S3 (aws cloudformation "
                f"package uploads it there when pointed at the sandbox)"
            ) from None
        return found["Body"].read()

    def _folder(self, *parts: str) -> Path:
        return Path(self.sandbox.state_dir) / "templates" / self.stack_name / Path(*parts)

    def stage_requirements(self, logical_id: str, folder: Path) -> list[Path]:
        staged, missing = build.stage_requirements(
            folder / "requirements.txt", self._folder(logical_id, "requirements")
        )
        self._missing(logical_id, folder / "requirements.txt", missing)
        return [staged] if staged else []

    def stage_layer(self, logical_id: str, folder: Path) -> list[Path]:
        method = self.plan.metadata(logical_id).get("BuildMethod")
        dirs, missing = build.stage_layer(folder, method, self._folder(logical_id))
        self._missing(logical_id, folder / "requirements.txt", missing)
        if not method and not (folder / "python").is_dir():
            self.warnings.append(
                f"{logical_id}: {folder} has no python/ folder, so nothing in it is importable "
                f"(as on AWS); add Metadata BuildMethod: python3.12 to build it as sam build does"
            )
        return dirs

    def _missing(self, logical_id: str, requirements: Path, missing: list[str]) -> None:
        for name in missing:
            self.warnings.append(
                f"{logical_id}: {requirements} names {name}, which is not installed next to the "
                f"sandbox (pip install {name}); importing it will fail, as in a function deployed "
                f"without sam build"
            )

    def add_layer(self, arn: str, dirs: list | None) -> None:
        self._layers[arn] = dirs
        folder = self.local_folder(self.plan.static[self.logical_id].get("Content"))
        if folder is not None:
            self._layer_sources[arn] = folder

    def layer_dirs(self, arn: str) -> list[Path]:
        """The folders a layer version gives a function (``/opt``): this template's, or any published
        through the API (the Lambda service unpacked it)."""
        dirs = self._layers.get(arn)
        return list(dirs) if dirs else [self.sandbox.service.layer_folder(arn)]

    # -- functions that run from a folder --------------------------------------------------------------
    def register_function(self, function, folder: Path, layer_arns: list[str]) -> None:
        self.sandbox.register_function(function)
        for watched in [folder] + [self._layer_sources[a] for a in layer_arns if a in self._layer_sources]:
            self.watched.setdefault(Path(watched), set()).add(function.function_name)

    def unregister_function(self, name: str) -> None:
        self.sandbox.service.function_deleted(name)

    def load_managed_policies(self, arns: list[str]) -> None:
        """AWS managed policies (``arn:aws:iam::aws:policy/...``) become attachable, as on AWS."""
        names = tuple(a.rsplit("/", 1)[-1] for a in arns if a.startswith("arn:aws:iam::aws:policy/"))
        if names:
            self.sandbox.endpoint.load_aws_managed_policies(names)
