"""Issue 15 item 9: the aliases the README and docs use in their API examples
are aliases the API accepts (the README once created the reserved "docs")."""

import re
from pathlib import Path

from links.codes import validate_short_code

ROOT = Path(__file__).resolve().parents[2]
# Endpoints under /api/links/ that are no link's code.
ENDPOINTS = {"bulk", "export.csv"}


def example_aliases():
    found = set()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = doc.read_text()
        found |= set(re.findall(r'"short_code":\s*"([^"]+)"', text))
        found |= set(re.findall(r"(?:\$API|/api)/links/([A-Za-z0-9_.-]+)", text))
    return found - ENDPOINTS


def test_item9_every_alias_in_the_api_examples_is_accepted():
    aliases = example_aliases()
    assert aliases, "the README's API examples name at least one alias"
    for alias in sorted(aliases):
        validate_short_code(alias)
