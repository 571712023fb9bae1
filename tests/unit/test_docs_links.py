"""The docs hold together: every relative link of README.md, docs/, the examples' READMEs and the notebooks'
README reaches a file that exists, every `#anchor` a heading of its target (as GitHub makes anchors from
headings), and the README stays a five-minute read."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from helpers.paths import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
DOCS = [
    README,
    *sorted((PROJECT_ROOT / "docs").glob("*.md")),
    *sorted(p for p in (PROJECT_ROOT / "examples").glob("**/README.md") if "node_modules" not in p.parts),
    PROJECT_ROOT / "notebooks" / "README.md",
]
README_MAX_LINES = 200

FENCED = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.M)
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, ...


def prose(text: str) -> str:
    """The text links and headings are read from: fenced blocks and code spans blanked out."""
    return CODE_SPAN.sub("``", FENCED.sub("", text))


def links(doc: Path) -> list[str]:
    text = prose(doc.read_text(encoding="utf-8"))
    return [
        target
        for target in INLINE_LINK.findall(text) + REFERENCE_DEFINITION.findall(text)
        if target and not EXTERNAL.match(target)
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (code marks, emphasis and link targets gone) lower-cased,
    every character but letters, digits, `-`, `_` and spaces dropped, each space a `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[`*]", "", text).strip().lower()
    return "".join(c for c in text if c.isalnum() or c in "-_ ").replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    """Every anchor of ``doc``'s headings; a repeated heading's anchor gets -1, -2, ... as on GitHub."""
    text = doc.read_text(encoding="utf-8")
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, heading in HEADING.findall(FENCED.sub("", text)):
        base = slug(heading)
        anchor = base if base not in seen else f"{base}-{seen[base]}"
        seen[base] = seen.get(base, 0) + 1
        found.add(anchor)
    found.update(re.findall(r"<a (?:name|id)=\"([^\"]+)\"", text))
    return found


def broken_links(doc: Path) -> list[str]:
    """Each link of ``doc`` whose file does not exist or whose anchor names no heading there, with why."""
    broken = []
    for target in links(doc):
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / unquote(path)).resolve() if path else doc
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved}")
        elif anchor and resolved.suffix == ".md" and unquote(anchor) not in anchors(resolved):
            broken.append(f"{target}: no heading with the anchor #{anchor} in {resolved.name}")
    return broken


def test_github_anchors_are_made_as_github_makes_them():
    assert slug("State across restarts") == "state-across-restarts"
    assert slug("Security: who can use the sandbox") == "security-who-can-use-the-sandbox"
    assert slug("`run_local.py package` — build the zips") == "run_localpy-package--build-the-zips"
    assert slug("The handler's settings") == "the-handlers-settings"
    assert slug("Node.js and custom runtimes") == "nodejs-and-custom-runtimes"
    assert slug("With the template: `sam build` and `sam deploy`") == (
        "with-the-template-sam-build-and-sam-deploy"
    )


def test_a_link_to_a_missing_file_or_heading_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Its part\n\n```sh\n# not a heading\n```\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](other.md#its-part) [top](#a-page) `[in code](gone.md)`\n\n# A page\n\n"
        "[gone](gone.md) [no part](other.md#not-a-heading) [a comment](other.md#not-a-heading-1)\n"
        "```sh\n[in a block](gone.md)\n```\n"
    )
    assert [problem.split(":")[0] for problem in broken_links(doc)] == [
        "gone.md",
        "other.md#not-a-heading",
        "other.md#not-a-heading-1",
    ]


@pytest.mark.parametrize(
    "doc", [d for d in DOCS if d.exists()], ids=lambda d: str(d.relative_to(PROJECT_ROOT))
)
def test_every_relative_link_reaches_an_existing_file_and_heading(doc):
    broken = broken_links(doc)
    assert not broken, "\n".join(broken)


def test_the_readme_is_a_five_minute_read():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move a topic into docs/"


def test_every_docs_page_is_reachable_from_the_readme():
    docs = (PROJECT_ROOT / "docs").resolve()
    reached, todo = set(), [README]
    while todo:
        doc = todo.pop()
        for target in links(doc):
            page = (doc.parent / unquote(target.partition("#")[0])).resolve()
            if page.suffix == ".md" and page.parent == docs and page not in reached:
                reached.add(page)
                todo.append(page)
    orphans = [page.name for page in sorted(docs.glob("*.md")) if page not in reached]
    assert not orphans, f"docs pages no link from README.md leads to: {orphans}"
