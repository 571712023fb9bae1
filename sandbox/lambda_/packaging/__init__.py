"""Deployment packages, as Lambda takes them: a function's zip (``function_zip.py``: built, checked,
unpacked safely), the Pillow layer (``layers.py``), and what they are built for (``targets.py``). The
``run_local.py package`` command is sandbox/cli/package_command.py. Why the layer needs Lambda's wheels:
docs/tools.md."""

from sandbox.lambda_.packaging.function_zip import (
    UNZIP_FAILED,
    PackageRefused,
    build_function_zip,
    check_function_zip,
    folder_size,
    function_zip_bytes,
    too_large_unzipped,
    unpack_package,
)
from sandbox.lambda_.packaging.layers import (
    LayerReport,
    build_pillow_layer,
    check_layer,
    installed_pillow_layer_bytes,
    local_pillow_version,
)
from sandbox.lambda_.packaging.targets import (
    DIRECT_UPLOAD_LIMIT_BYTES,
    LAMBDA_ARCHITECTURES,
    LAMBDA_PYTHON_RUNTIMES,
    UNZIPPED_LIMIT_BYTES,
    PackagingError,
    Target,
)

__all__ = [
    "DIRECT_UPLOAD_LIMIT_BYTES",
    "LAMBDA_ARCHITECTURES",
    "LAMBDA_PYTHON_RUNTIMES",
    "UNZIPPED_LIMIT_BYTES",
    "UNZIP_FAILED",
    "LayerReport",
    "PackageRefused",
    "PackagingError",
    "Target",
    "build_function_zip",
    "build_pillow_layer",
    "check_function_zip",
    "check_layer",
    "folder_size",
    "function_zip_bytes",
    "installed_pillow_layer_bytes",
    "local_pillow_version",
    "too_large_unzipped",
    "unpack_package",
]
