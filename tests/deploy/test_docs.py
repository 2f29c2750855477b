"""docs/deploy.md, docs/operations.md, docs/alerts.md and the comments in
deploy/ against the files they describe: an operator types what they say."""

import re
import stat
from pathlib import Path, PurePosixPath

from tests.deploy.envfiles import (
    DEPLOY,
    K8S,
    ROOT,
    compose,
    env_file,
    env_file_names,
    k8s_objects,
)

DOCS = ROOT / "docs"
DEPLOY_MD = DOCS / "deploy.md"
RUNBOOKS = [DEPLOY_MD, DOCS / "operations.md", DOCS / "alerts.md"]
NAMESPACE = "tinylink"
COMPOSE_SUBCOMMAND = re.compile(
    r"docker compose(?:\s+-f\s+(?P<file>\S+))?\s+"
    r"(?P<verb>exec|logs|ps|run|stop|start|restart|up)(?P<rest>[^`]*)"
)


def code_snippets(path):
    """Every piece of code in a file: each line of a fenced block, each inline
    `span` (which may wrap a line) of Markdown; each line of anything else."""
    text = Path(path).read_text()
    if path.suffix != ".md":
        return text.splitlines()
    snippets, prose, fenced = [], [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        elif fenced:
            snippets.append(line)
        else:
            prose.append(line)
    joined = re.sub(r"\s+", " ", "\n".join(prose))
    return snippets + re.findall(r"`([^`]+)`", joined)


def snippets_of(paths):
    for path in paths:
        for snippet in code_snippets(path):
            # A shell comment after the command is not part of it.
            command = re.sub(r"\s#\s.*", "", snippet)
            yield path.relative_to(ROOT), command


def documented_places():
    return RUNBOOKS + sorted(
        p for p in DEPLOY.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )


def compose_services(file):
    return set(compose(PurePosixPath(file or "deploy/compose.yaml").name)["services"])


def test_compose_commands_name_services_that_exist_and_show_exited_ones():
    wrong, seen = [], 0
    for where, snippet in snippets_of(documented_places()):
        for match in COMPOSE_SUBCOMMAND.finditer(snippet):
            seen += 1
            words = [w for w in match["rest"].split() if not w.startswith("-")]
            if match["verb"] == "ps" and "-a" not in match["rest"].split():
                wrong.append(f"{where}: {match[0]!r} hides the exited migrate")
            service = words[0] if words else None
            if service and service not in compose_services(match["file"]):
                wrong.append(f"{where}: {match[0]!r}: no service {service}")
    assert wrong == []
    assert seen >= 10  # the scan reads the runbooks


def test_kubectl_commands_name_the_namespace_and_objects_that_exist():
    objects = {
        (obj["kind"], obj["metadata"]["name"])
        for _, obj in k8s_objects()
        if "metadata" in obj
    }
    kinds = {"deploy": "Deployment", "deployment": "Deployment", "job": "Job"}
    wrong, seen = [], 0
    for where, snippet in snippets_of(documented_places()):
        for command in re.findall(r"kubectl\s[^`|;&]*", snippet):
            if command.split()[1] in {"apply", "build"} and "-k" in command.split():
                continue  # the kustomization sets the namespace
            seen += 1
            if f"-n {NAMESPACE}" not in command:
                wrong.append(f"{where}: {command!r} without -n {NAMESPACE}")
            for kind, name in re.findall(
                r"(?<![\w/.])(deploy|deployment|job)/([\w-]+)(?![\w/.-])", command
            ):
                if (kinds[kind], name) not in objects:
                    wrong.append(f"{where}: {command!r}: no {kinds[kind]} {name}")
    assert wrong == []
    assert seen >= 10


def test_comments_and_docs_cite_test_files_that_exist():
    cited = {}
    for path in documented_places():
        for name in re.findall(r"\btests/[\w/]+\.py\b", path.read_text()):
            cited.setdefault(name, path.relative_to(ROOT))
    missing = {
        name: where for name, where in cited.items() if not (ROOT / name).is_file()
    }
    assert missing == {}
    assert cited  # the scan finds the citations


def test_nginx_can_reach_the_static_files_through_the_systemd_directories():
    # nginx runs as www-data, neither owner nor group of the directories the
    # install creates: each one above STATIC_ROOT needs "others" execute.
    nginx = (DEPLOY / "nginx" / "tinylink.conf").read_text()
    static = PurePosixPath(re.search(r"alias\s+(\S+?)/?;", nginx)[1])
    created = {}
    for line in DEPLOY_MD.read_text().splitlines():
        if match := re.search(r"install -d .*-m (\d{4}) ((?:/\S+ ?)+)", line):
            for directory in match[2].split():
                created[PurePosixPath(directory)] = int(match[1], 8)
    above = {d: mode for d, mode in created.items() if d in static.parents}
    assert PurePosixPath("/srv/tinylink") in above
    for directory, mode in above.items():
        assert mode & stat.S_IXOTH, f"{directory} {oct(mode)}: nginx gets 403"
    # The data itself stays closed.
    assert created[PurePosixPath("/srv/tinylink/backups")] & 0o007 == 0


def test_every_pip_install_in_the_docs_uses_the_hashed_lock():
    installs = [
        (where, snippet)
        for where, snippet in snippets_of(RUNBOOKS)
        if re.search(r"pip install\b", snippet)
    ]
    assert len(installs) >= 2  # install and upgrade
    for where, snippet in installs:
        assert "--require-hashes --no-deps -r requirements.lock" in snippet, (
            where,
            snippet,
        )


def test_the_restore_test_can_make_its_scratch_database_on_the_systemd_path():
    (createuser,) = [s for _, s in snippets_of([DEPLOY_MD]) if "createuser" in s]
    systemd_env = env_file(DEPLOY / "systemd" / "tinylink.env.example")
    assert "--createdb" in createuser.split() or systemd_env.get(
        "RESTORE_TEST_DATABASE"
    )
    # Where the role may not create databases, the examples offer the setting.
    for path in (
        DEPLOY / "tinylink.env.example",
        DEPLOY / "systemd" / "tinylink.env.example",
    ):
        assert "RESTORE_TEST_DATABASE" in env_file_names(path), path
    assert "# RESTORE_TEST_DATABASE: " in (K8S / "secret.example.yaml").read_text()


def test_reload_is_offered_only_with_the_warning_that_it_does_not_migrate():
    unit = (DEPLOY / "systemd" / "tinylink.service").read_text()
    assert re.search(r"^ExecStartPre=.*manage\.py migrate", unit, re.M)
    assert re.search(r"^ExecReload=", unit, re.M)
    paragraphs = re.split(r"\n\s*\n", DEPLOY_MD.read_text())
    offering = [p for p in paragraphs if re.search(r"systemctl\s+reload\s+tinylink", p)]
    assert offering
    for paragraph in offering:
        assert "restart" in paragraph, paragraph
        assert "migrat" in paragraph, paragraph


def test_the_compose_app_outlives_gunicorns_graceful_timeout():
    conf = (DEPLOY / "gunicorn.conf.py").read_text()
    default = re.search(r'"GUNICORN_GRACEFUL_TIMEOUT", "(\d+)"', conf)[1]
    graceful = int(env_file(DEPLOY / "tinylink.env.example").get(
        "GUNICORN_GRACEFUL_TIMEOUT", default))  # fmt: skip
    grace = compose()["services"]["app"].get("stop_grace_period", "10s")
    match = re.fullmatch(r"(\d+)s", grace)
    assert match, grace
    assert int(match[1]) > graceful


def test_the_release_tag_and_commit_live_in_compose_project_env():
    # Without them a later `up` builds tinylink:latest with commit "unknown".
    text = DEPLOY_MD.read_text()
    assert re.search(r"TINYLINK_TAG=[^\s`]+.*GIT_COMMIT=.*> deploy/\.env", text)
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".env" in ignored or "deploy/.env" in ignored
    args = compose()["x-tinylink"]["build"]["args"]
    assert args["GIT_COMMIT"].startswith("${GIT_COMMIT")


def test_the_systemd_prerequisites_install_venv_and_git():
    section = DEPLOY_MD.read_text().split("## systemd", 1)[1].split("\n## ", 1)[0]
    (apt,) = [line for line in section.splitlines() if "apt-get install" in line]
    assert {"python3.11-venv", "git"} <= set(apt.split())
    assert section.index("apt-get install") < section.index("python3.11 -m venv")


def test_the_connection_budget_formula_is_the_readmes():
    def formula(text):
        block = re.search(r"\n((?:    .*\n)*    .*≤ max_connections.*)\n", text)[1]
        return [line.strip() for line in block.splitlines()]

    assert formula(DEPLOY_MD.read_text()) == formula((ROOT / "README.md").read_text())
    assert "maxSurge" in DEPLOY_MD.read_text().split("## The connection budget")[1]


def test_the_uptime_check_docs_say_what_it_needs_and_that_probes_click():
    text = (DOCS / "operations.md").read_text()
    section = text.split("\n## Uptime check", 1)[1].split("\n## ", 1)[0]
    assert "nothing but the standard library" not in section
    assert "SECRET_KEY" in section
    assert "virtualenv" in section
    assert "real click" in section
    assert "dedicated" in section
    # Every example probes the dedicated link, not one whose numbers count.
    assert set(re.findall(r"--code\s+(\w+)", section)) == {"probe"}
