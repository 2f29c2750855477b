"""pg_dump archives: the client tools (pg_dump, pg_restore) run with fixed
argument lists, and what is checked in an archive before it is loaded."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from opsconsole.errors import OpsError

# What TinyLink's own dumps hold (pg_restore --list). A function, trigger,
# view, rule, extension or anything else would run code during or after the
# load: never part of a backup of ours.
ALLOWED_ENTRIES = frozenset(
    {
        "TABLE",
        "TABLE DATA",
        "INDEX",
        "CONSTRAINT",
        "FK CONSTRAINT",
        "SEQUENCE",
        "SEQUENCE OWNED BY",
        "SEQUENCE SET",
        "DEFAULT",
        # GRANTs an operator gave other roles: no code, and not loaded
        # (--no-acl): the target installation's roles are its own business.
        "ACL",
    }
)
# Calls that may appear in our schema's DDL: type modifiers, pg_dump's own
# header, sequence defaults of older Django versions. A CHECK or DEFAULT that
# calls anything else would run it on every row the load inserts.
ALLOWED_CALLS = frozenset({"varying", "numeric", "set_config", "nextval", "precision"})
# `check_integrity` installs amcheck in the live database, so a dump of it
# holds the extension (and its comment): the one extension that is ours.
OUR_EXTENSIONS = frozenset(
    {("EXTENSION", "-", "amcheck"), ("COMMENT", "-", "EXTENSION")}
)
_TOC_LINE = re.compile(r"^\d+; \d+ \d+ (?P<rest>.*)$")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\(")


def tool(name):
    path = shutil.which(name)
    if not path:
        raise OpsError(
            f"{name} is not installed; install the PostgreSQL client "
            "tools (Debian: postgresql-client)."
        )
    return path


def check_tool_version(path, server_major):
    output = subprocess.run(
        [path, "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", output)
    tool_major = int(match[1]) if match else 0
    if tool_major < server_major:
        raise OpsError(
            f"{os.path.basename(path)} is version {tool_major} but the server is "
            f"{server_major}; install a client at least as new as the server."
        )


def _run(arguments, env=None):
    return subprocess.run(arguments, capture_output=True, text=True, env=env)


def _first_error(stderr, returncode):
    lines = [line for line in stderr.splitlines() if line.strip()]
    # The reason is on the "ERROR:" line; the last lines only quote the
    # statement that failed.
    errors = [line for line in lines if "ERROR:" in line]
    return (errors or lines or [f"exit {returncode}"])[0]


def list_entries(artifact):
    """[(entry type, schema, name)] of the archive's table of contents;
    OpsError when the file is not a readable archive."""
    result = _run([tool("pg_restore"), "--list", str(artifact)])
    if result.returncode != 0:
        raise OpsError(
            f"{artifact} is not a readable pg_dump archive: {result.stderr.strip()}"
        )
    entries = []
    for line in result.stdout.splitlines():
        match = _TOC_LINE.match(line)
        if not match:
            continue
        words = match["rest"].split()
        # Entry types have one to three words; the schema follows ("-" for
        # none), then the name, then the owner.
        for size in (3, 2, 1):
            kind = " ".join(words[:size])
            if kind in ALLOWED_ENTRIES or size == 1:
                break
        schema, name = ([*words[size:], "", ""])[:2]
        entries.append((kind, schema, name))
    return entries


def check_schema(artifact, *, known_tables, name, schema="public"):
    """OpsError naming the first object in the archive that TinyLink's
    migrations do not create, before anything is loaded."""
    for kind, entry_schema, entry_name in list_entries(artifact):
        if (kind, entry_schema, entry_name) in OUR_EXTENSIONS:
            continue
        if kind not in ALLOWED_ENTRIES:
            raise OpsError(
                f"{name} holds a {kind} ({entry_schema}.{entry_name}), which "
                "TinyLink never creates: refusing to load it. The backup was "
                "altered or is not TinyLink's."
            )
        if entry_schema != schema:
            raise OpsError(
                f"{name} holds {kind} {entry_name} in schema {entry_schema}, not "
                f"{schema}: refusing to load it."
            )
        if kind in ("TABLE", "TABLE DATA") and entry_name not in known_tables:
            raise OpsError(
                f"{name} holds a table {entry_name} that TinyLink's migrations do "
                "not create: refusing to load it."
            )
    result = _run([tool("pg_restore"), "--schema-only", "--file=-", str(artifact)])
    if result.returncode != 0:
        raise OpsError(f"{name}: {_first_error(result.stderr, result.returncode)}")
    for called in _CALL.findall(result.stdout):
        base = called.rsplit(".", 1)[-1]
        if base not in ALLOWED_CALLS and base not in known_tables:
            raise OpsError(
                f"{name}'s schema calls {called}(), which TinyLink's migrations "
                "never do: refusing to load it."
            )


def check_archive(artifact):
    """The whole archive read back (every table's data decompressed and
    parsed), written nowhere: [] or the problems found."""
    result = _run([tool("pg_restore"), "--file=/dev/null", str(artifact)])
    if result.returncode != 0:
        return [line for line in result.stderr.splitlines() if line.strip()][:5]
    return []


def _data_entries_only(artifact, list_path):
    """Write the archive's table of contents without its extensions (amcheck,
    which check_integrity installs; creating one needs privileges that the
    app's role may lack, and restoring data never needs it)."""
    result = _run([tool("pg_restore"), "--list", str(artifact)])
    lines = [
        f";{line}" if " EXTENSION " in f" {line} " else line
        for line in result.stdout.splitlines()
    ]
    Path(list_path).write_text("\n".join(lines) + "\n")


def restore_archive(artifact, dbname, env):
    """Load the archive into `dbname` in one transaction; OpsError (the
    database unchanged) when anything fails."""
    with tempfile.NamedTemporaryFile("w", suffix=".list") as contents:
        _data_entries_only(artifact, contents.name)
        result = _run(
            [
                tool("pg_restore"),
                "--single-transaction",
                "--exit-on-error",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-acl",
                "--no-password",
                f"--use-list={contents.name}",
                f"--dbname={dbname}",
                str(artifact),
            ],
            env=env,
        )
    if result.returncode != 0:
        reason = _first_error(result.stderr, result.returncode)
        raise OpsError(f"pg_restore failed, the database is unchanged: {reason}")
