"""requirements.lock (every runtime package, transitive ones too, with hashes;
what the image installs with --require-hashes) agrees with requirements.txt
and with the .venv. Offline: the dependencies are read from the installed
packages' metadata, not from an index. `make lock` regenerates the lock."""

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def logical_lines(path):
    """Lines with their backslash continuations joined, comments dropped."""
    text = re.sub(r"\\\n", " ", Path(path).read_text())
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            yield line


def read_pins(path):
    """{name: Requirement} of a requirements file (its -r lines ignored)."""
    pins = {}
    for line in logical_lines(path):
        requirement = Requirement(line)
        pins[canonicalize_name(requirement.name)] = requirement
    return pins


def read_lock(path):
    """{name: (version, [sha256 hashes])} of a pip-compile lock."""
    locked = {}
    for line in logical_lines(path):
        spec, *options = line.split()
        requirement = Requirement(spec)
        (version,) = [s.version for s in requirement.specifier if s.operator == "=="]
        hashes = [o for o in options if o.startswith("--hash=sha256:")]
        locked[canonicalize_name(requirement.name)] = (version, hashes)
    return locked


def exact_version(requirement):
    versions = [s.version for s in requirement.specifier if s.operator == "=="]
    return versions[0] if len(versions) == 1 else None


def required_closure(direct):
    """{name: the first requirement that asked for it}, walked through the
    installed distributions' Requires-Dist, markers evaluated for this Python
    and platform with the extras asked for (psycopg[binary,pool])."""
    found = {}
    queue = [(requirement, "requirements.txt") for requirement in direct]
    while queue:
        requirement, asked_by = queue.pop()
        name = canonicalize_name(requirement.name)
        first_time = name not in found
        found.setdefault(name, asked_by)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # reported as not installed by lock_problems
        for extra in ["", *requirement.extras] if first_time else requirement.extras:
            for line in distribution.requires or []:
                child = Requirement(line)
                if child.marker is None or child.marker.evaluate({"extra": extra}):
                    queue.append((child, name))
    return found


def lock_problems(requirements, lock):
    """One line per disagreement between a requirements file, its lock and
    the installed packages; [] when they agree."""
    pins = read_pins(requirements)
    locked = read_lock(lock)
    problems = []
    for name, requirement in pins.items():
        if exact_version(requirement) is None:
            problems.append(f"{requirement}: not pinned with ==")
        elif name not in locked:
            problems.append(f"{name}: in {Path(requirements).name}, not in the lock")
        elif locked[name][0] != exact_version(requirement):
            problems.append(
                f"{name}: {exact_version(requirement)} in "
                f"{Path(requirements).name}, {locked[name][0]} in the lock"
            )
    closure = required_closure(pins.values())
    for name, asked_by in sorted(closure.items()):
        if name not in locked:
            problems.append(f"{name}: required by {asked_by}, not in the lock")
    for name, (version, hashes) in sorted(locked.items()):
        if name not in closure:
            problems.append(f"{name}: in the lock, required by nothing")
        if not hashes:
            problems.append(f"{name}: no sha256 hash in the lock")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name}: locked at {version}, not installed")
            continue
        if installed != version:
            problems.append(f"{name}: locked at {version}, {installed} installed")
    return problems


def test_the_lock_agrees_with_requirements_and_the_venv():
    assert lock_problems(ROOT / "requirements.txt", ROOT / "requirements.lock") == []


def test_the_lock_holds_the_transitive_dependencies():
    locked = read_lock(ROOT / "requirements.lock")
    # Not in requirements.txt, needed at run time.
    assert {"asgiref", "sqlparse", "psycopg-binary", "psycopg-pool"} <= set(locked)


def copies(tmp_path):
    requirements = tmp_path / "requirements.txt"
    lock = tmp_path / "requirements.lock"
    requirements.write_text((ROOT / "requirements.txt").read_text())
    lock.write_text((ROOT / "requirements.lock").read_text())
    return requirements, lock


def test_a_pin_the_lock_does_not_have_is_found(tmp_path):
    requirements, lock = copies(tmp_path)
    django = metadata.version("django")
    requirements.write_text(
        requirements.read_text().replace(f"Django=={django}", "Django==5.2.0")
    )
    assert lock_problems(requirements, lock) == [
        f"django: 5.2.0 in requirements.txt, {django} in the lock"
    ]


def test_an_unpinned_requirement_is_found(tmp_path):
    requirements, lock = copies(tmp_path)
    requirements.write_text(requirements.read_text() + "sqlparse>=0.5\n")
    assert lock_problems(requirements, lock) == ["sqlparse>=0.5: not pinned with =="]


def test_a_missing_transitive_dependency_is_found(tmp_path):
    requirements, lock = copies(tmp_path)
    text = lock.read_text()
    # sqlparse's entry: its pin, hash lines and "# via" comments.
    lock.write_text(re.sub(r"(?ms)^sqlparse==.*?(?=^\S)", "", text))
    assert lock_problems(requirements, lock) == [
        "sqlparse: required by django, not in the lock"
    ]


def test_a_package_without_a_hash_is_found(tmp_path):
    requirements, lock = copies(tmp_path)
    version = metadata.version("qrcode")
    lock.write_text(
        re.sub(
            rf"(?m)^qrcode=={re.escape(version)} \\\n(    --hash=\S+ ?\\?\n)+",
            f"qrcode=={version}\n",
            lock.read_text(),
        )
    )
    assert lock_problems(requirements, lock) == ["qrcode: no sha256 hash in the lock"]


def test_a_lock_the_venv_does_not_match_is_found(tmp_path):
    requirements, lock = copies(tmp_path)
    version = metadata.version("sqlparse")
    lock.write_text(lock.read_text().replace(f"sqlparse=={version}", "sqlparse==0.0.1"))
    assert lock_problems(requirements, lock) == [
        f"sqlparse: locked at 0.0.1, {version} installed"
    ]


def test_a_package_nothing_requires_is_found(tmp_path):
    requirements, lock = copies(tmp_path)
    lock.write_text(lock.read_text() + "pytest==9.2.0 \\\n    --hash=sha256:00\n")
    assert lock_problems(requirements, lock) == [
        "pytest: in the lock, required by nothing"
    ]
