import io
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from links import files
from links.exports import EXPORT_HEADER, csv_lines
from links.management.commands import export_links
from links.models import Link


def export(*args):
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("export_links", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def links(user, other_user):
    return [
        Link.objects.create_link(
            target_url="https://example.com/a", short_code="alice-a", owner=user
        ),
        Link.objects.create_link(
            target_url="https://example.com/b", short_code="-bob", owner=other_user
        ),
        Link.objects.create_link(target_url="https://example.com/c", short_code="anon"),
    ]


def test_export_to_stdout_is_the_api_csv(links):
    out, err = export()

    assert out == "".join(csv_lines(Link.objects.all()))
    assert out.splitlines()[0] == ",".join(EXPORT_HEADER)
    assert "Exported 3 links." in err


def test_export_neutralises_formula_cells(links):
    out, _ = export()

    assert "\r\n'-bob,/-bob,https://example.com/b," in out


def test_export_with_owner_contains_only_that_users_links(links, user):
    out, _ = export("--owner", "alice")

    rows = out.splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["alice-a"]


def test_export_with_unknown_owner_fails(links):
    with pytest.raises(CommandError, match="No user named 'carol'"):
        export("--owner", "carol")


def test_export_to_file_writes_the_csv_and_leaves_no_temp_files(links, tmp_path):
    target = tmp_path / "links.csv"

    out, _ = export("-o", str(target))

    assert target.read_bytes() == "".join(csv_lines(Link.objects.all())).encode()
    assert list(tmp_path.iterdir()) == [target]
    assert out == f"Exported 3 links to {target}.\n"


def test_export_file_is_readable_by_its_owner_only(links, tmp_path):
    target = tmp_path / "links.csv"

    export("-o", str(target))

    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("previous", ["the previous export\n", None])
def test_failed_export_keeps_what_was_there_and_leaves_no_partial_file(
    links, tmp_path, monkeypatch, previous
):
    target = tmp_path / "links.csv"
    if previous is not None:
        target.write_text(previous)

    def failing_lines(queryset):
        yield ",".join(EXPORT_HEADER) + "\r\n"
        raise RuntimeError("database went away")

    monkeypatch.setattr(export_links, "csv_lines", failing_lines)

    with pytest.raises(RuntimeError, match="database went away"):
        export("-o", str(target))

    if previous is None:
        assert list(tmp_path.iterdir()) == []
    else:
        assert target.read_text() == previous
        assert list(tmp_path.iterdir()) == [target]


def test_export_replaces_a_partial_file_left_by_a_crash_and_writes_whole(
    links, tmp_path
):
    target = tmp_path / "links.csv"
    stale = tmp_path / "links.csv.partial"
    stale.write_text("half an export from a crashed run")
    stale.chmod(0o644)

    export("-o", str(target))

    assert target.read_bytes() == "".join(csv_lines(Link.objects.all())).encode()
    assert target.stat().st_mode & 0o777 == 0o600
    assert list(tmp_path.iterdir()) == [target]


def test_export_syncs_the_directory_after_the_rename(links, tmp_path, monkeypatch):
    target = tmp_path / "links.csv"
    synced = []
    monkeypatch.setattr(
        files, "fsync_dir", lambda path: synced.append((path, target.exists()))
    )

    export("-o", str(target))

    assert synced == [(tmp_path, True)]


def test_export_into_a_missing_directory_fails_with_one_line(links, tmp_path):
    target = tmp_path / "missing" / "links.csv"

    with pytest.raises(CommandError) as error:
        export("-o", str(target))

    assert str(error.value) == (f"Cannot write {target}: No such file or directory.")


def test_export_reports_progress_on_stderr(links, monkeypatch):
    monkeypatch.setattr(export_links, "PROGRESS_EVERY", 2)

    out, err = export()

    assert "2 links exported…" in err
    assert "exported" not in out


def test_export_of_no_links_is_the_header_only(db, tmp_path):
    target = tmp_path / "links.csv"

    export("-o", str(target))

    assert target.read_text() == ",".join(EXPORT_HEADER) + "\n"


def test_export_to_a_closed_pipe_fails_with_one_line(links):
    read_end, write_end = os.pipe()
    os.close(read_end)
    with open(write_end, "w") as closed_pipe, pytest.raises(CommandError) as error:
        call_command("export_links", stdout=closed_pipe, stderr=io.StringIO())

    assert str(error.value) == "stdout was closed before the export was complete."
