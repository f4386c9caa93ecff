"""The documentation: the README short (what it is, the two commands, where to read on), and the reference pages
of docs/ what the code says (scripts/test.sh then builds the site with mkdocs --strict)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from cli import docs_reference

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_opens_with_the_two_commands_and_stays_short() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text) <= 10_000
    commands = [line.split("#")[0].strip() for line in text.splitlines() if line.startswith("bash scripts/")]
    assert commands[:2] == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    pages = [p.name for p in (ROOT / "docs").glob("*.md")]
    assert all(f"(docs/{name})" in text for name in pages if name != "index.md"), "link every page of docs/"


def test_the_committed_reference_pages_are_what_the_code_says() -> None:
    stale = {
        name
        for name, text in docs_reference.pages().items()
        if (ROOT / "docs" / "reference" / name).read_text(encoding="utf-8") != text
    }
    assert stale == set(), "run `uv run python -m cli.docs_reference` and commit docs/reference/"


class Example(BaseModel):
    """A table of an example configuration."""

    region: str = Field(description="Where it runs <on AWS>, e.g. eu-west-1 | us-east-1.")
    retries: int = Field(default=3, description="How often it tries again.")


def test_a_configuration_page_shows_each_field_its_type_default_and_meaning() -> None:
    page = docs_reference.configuration_markdown(Example)
    assert "## `Example`\n\nA table of an example configuration." in page
    assert "| `region` | str | required | Where it runs &lt;on AWS&gt;, e.g. eu-west-1 \\| us-east-1. |" in page
    assert "| `retries` | int | `3` | How often it tries again. |" in page
