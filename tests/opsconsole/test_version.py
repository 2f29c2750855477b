"""The version is written once, in pyproject.toml; the commit comes from the
image's GIT_COMMIT when .git is not there."""

import re
import subprocess
import sys
import tomllib

from opsconsole import version
from tests.servers import ROOT


def test_the_version_is_pyprojects():
    with open(ROOT / "pyproject.toml", "rb") as file:
        assert tomllib.load(file)["project"]["version"] == version.VERSION


def test_version_py_holds_no_version_of_its_own():
    source = (ROOT / "opsconsole" / "version.py").read_text()
    assert not re.search(r"""["']\d+\.\d+(\.\d+)?["']""", source)


def test_a_changed_pyproject_changes_the_version(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "tinylink"\nversion = "9.8.7"\n')
    assert version.read_version(pyproject) == "9.8.7"


def test_git_commit_from_the_environment_wins():
    # As in the image: GIT_COMMIT from the build argument.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from opsconsole import version; print(version.commit())",
        ],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "GIT_COMMIT": "0123abc" * 6},
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout.strip()) == (0, ("0123abc" * 6)[:40])
