import pytest

from links import imports
from links import models as link_models
from links.models import Link
from tests.links.import_helpers import (
    run,
    run_failing,
    write_csv,
)


def test_code_taken_between_check_and_insert_counts_as_existing_and_batch_goes_on(
    db, tmp_path, monkeypatch
):
    Link.objects.create_link(target_url="https://example.com/", short_code="race")
    # As if another process inserted "race" after the batch's check.
    monkeypatch.setattr(imports, "_existing_codes", lambda batch: set())
    path = write_csv(
        tmp_path / "links.csv",
        "https://example.com/1,before",
        "https://example.com/2,race",
        "https://example.com/3,after",
    )
    reported = []

    result = imports.import_links(
        path=path, report=lambda *row: reported.append(row), batch_size=10
    )

    assert (result.created, result.existed, result.invalid) == (2, 1, 0)
    assert reported == [(2, "exists", "short code 'race' exists; skipped.")]
    assert Link.objects.count() == 3


def test_generated_code_that_collides_is_replaced_as_in_create_link(
    db, tmp_path, monkeypatch
):
    Link.objects.create_link(target_url="https://example.com/", short_code="Taken12")
    codes = iter(["Taken12", "Fresh34"])
    monkeypatch.setattr(link_models, "generate_code", lambda: next(codes))
    path = write_csv(tmp_path / "links.csv", "https://example.com/new")

    result = imports.import_links(path=path)

    assert (result.created, result.existed, result.invalid) == (1, 0, 0)
    assert Link.objects.get(short_code="Fresh34").target_url == (
        "https://example.com/new"
    )


def test_progress_is_reported_every_n_rows_with_counts(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        *(f"https://example.com/{n},code{n}" for n in range(5)),
        "https://example.com/bad,admin",
    )
    seen = []

    result = imports.import_links(
        path=path,
        progress=lambda r: seen.append((r.created, r.existed, r.invalid)),
        batch_size=2,
        progress_every=3,
    )

    assert seen == [(3, 0, 0), (5, 0, 1)]
    assert (result.created, result.invalid) == (5, 1)


def test_batches_commit_separately(db, tmp_path, monkeypatch):
    path = write_csv(
        tmp_path / "links.csv",
        *(f"https://example.com/{n},code{n}" for n in range(5)),
    )
    real_existing_codes = imports._existing_codes
    calls = []

    def fail_on_second_batch(batch):
        calls.append(batch)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_existing_codes(batch)

    monkeypatch.setattr(imports, "_existing_codes", fail_on_second_batch)

    with pytest.raises(RuntimeError, match="disk full"):
        imports.import_links(path=path, batch_size=2)

    assert sorted(Link.objects.values_list("short_code", flat=True)) == [
        "code0",
        "code1",
    ]


def test_row_refused_by_a_database_constraint_is_invalid_and_batch_goes_on(
    db, tmp_path, monkeypatch
):
    real_validated_link = imports._validated_link

    def slip_past_validation(cells, columns, *, owner):
        link, errors = real_validated_link(cells, columns, owner=owner)
        if link.short_code == "neg":
            link.click_count = -1
        return link, errors

    monkeypatch.setattr(imports, "_validated_link", slip_past_validation)
    path = write_csv(
        tmp_path / "links.csv",
        "https://example.com/1,before",
        "https://example.com/2,neg",
        "https://example.com/3,after",
    )
    reported = []

    result = imports.import_links(
        path=path, report=lambda *row: reported.append(row), batch_size=10
    )

    assert (result.created, result.existed, result.invalid) == (2, 0, 1)
    [(line, status, message)] = reported
    assert (line, status) == (2, "invalid")
    assert message.startswith("the database refused the row: ")
    assert "link_click_count_non_negative" in message
    assert "\n" not in message
    assert sorted(Link.objects.values_list("short_code", flat=True)) == [
        "after",
        "before",
    ]


def test_negative_click_count_is_invalid(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        "short_code,target_url,click_count",
        "neg,https://example.com/,-3",
    )

    output, _ = run_failing("import_links", path, "--dry-run")

    assert output.err == "line 2: click_count: A click count is 0 or more.\n"


def test_command_prints_progress_to_stderr(db, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 1)
    path = write_csv(tmp_path / "links.csv", "https://example.com/a,a1")

    output = run("import_links", path)

    assert "1 rows: created 1, existed 0, invalid 0" in output.err


def test_dry_run_counts_rows_without_codes_as_created(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv", "https://example.com/a", "https://example.com/b"
    )

    output = run("import_links", path, "--dry-run")

    assert "would create 2, existed 0, invalid 0" in output.out
    assert Link.objects.count() == 0


def test_a_batch_of_new_links_is_inserted_with_one_statement(
    db, tmp_path, django_assert_max_num_queries
):
    path = write_csv(
        tmp_path / "links.csv",
        *(f"https://example.com/{n},code{n}" for n in range(50)),
    )

    # The existing-code check, the insert, and their transaction/savepoint:
    # not three statements per row.
    with django_assert_max_num_queries(6):
        result = imports.import_links(path=path, batch_size=50)

    assert result.created == 50


def test_rerun_skips_existing_codes_without_trying_to_insert_them(
    db, tmp_path, django_assert_max_num_queries
):
    path = write_csv(
        tmp_path / "links.csv",
        *(f"https://example.com/{n},code{n}" for n in range(50)),
    )
    imports.import_links(path=path, batch_size=50)

    with django_assert_max_num_queries(6):
        result = imports.import_links(path=path, batch_size=50)

    assert (result.created, result.existed) == (0, 50)
