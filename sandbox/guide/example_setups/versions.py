"""``--example versions``: a function whose README walkthrough publishes two versions and shifts an alias's
traffic between them (examples/versions/); the sandbox starts with $LATEST only, as a new function is."""

from __future__ import annotations

from sandbox.guide.example_setups import EXAMPLES_DIR, Example, create_function, package

FUNCTION = "GreeterLambda"


def setup(sandbox) -> list[str]:
    create_function(
        sandbox, FUNCTION, package(EXAMPLES_DIR / "versions" / "v1"), "lambda_function.lambda_handler"
    )
    return [
        f"{FUNCTION} ($LATEST says Hello): publish it, change it, publish again, then point the alias "
        "live at version 1 with 20 % of its traffic to version 2 (examples/versions/README.md)",
    ]


EXAMPLE = Example("versions", "versions and an alias shifting traffic between them", setup)
