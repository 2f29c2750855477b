"""Every `manage.py <command>` the README, docs/ and deploy/ mention is a
command that exists, so the docs cannot drift from the code."""

import re
from pathlib import Path

from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
# `manage.py backup`, and the exec form of compose/Kubernetes files:
# ["python", "manage.py", "migrate"].
_COMMAND = re.compile(r"""manage\.py["']?(?:\s*,\s*["']|\s+)([a-z_][a-z0-9_]*)\b""")


def mentioned_commands(text):
    """{command: first line number} of every `manage.py <command>` in text."""
    found = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for name in _COMMAND.findall(line):
            found.setdefault(name, number)
    return found


def documents():
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").rglob("*.md"))
    yield from sorted(path for path in (ROOT / "deploy").rglob("*") if path.is_file())


def test_the_parser_finds_commands_in_prose_and_exec_form():
    sample = (
        "Run `.venv/bin/python manage.py bakup --label x` first.\n"
        'command: ["python", "manage.py", "migrate", "--noinput"]\n'
        "ExecStartPre=/srv/.venv/bin/python manage.py check_integrity\n"
        "args: ['manage.py', 'opsworker']\n"
        "python manage.py --help, manage.py <command>, manage.py …\n"
    )
    assert mentioned_commands(sample) == {
        "bakup": 1,
        "migrate": 2,
        "check_integrity": 3,
        "opsworker": 4,
    }
    # The typo is what the test below reports.
    assert set(mentioned_commands(sample)) - set(get_commands()) == {"bakup"}


def test_every_documented_manage_py_command_exists():
    commands = set(get_commands())
    unknown = []
    seen = set()
    for path in documents():
        text = path.read_text(errors="replace")
        for name, line in mentioned_commands(text).items():
            seen.add(name)
            if name not in commands:
                unknown.append(f"{path.relative_to(ROOT)}:{line}: manage.py {name}")
    assert unknown == []
    # The scan reads what it should: the docs name these, at least.
    assert {"backup", "restore", "opsworker", "uptime_check", "migrate"} <= seen
