from datetime import UTC, datetime, timedelta

from django.utils import timezone

from links.models import Link
from tests.links.import_helpers import (
    HEADER,
    run,
    run_failing,
    snapshot,
    write_csv,
)


def test_round_trip_export_delete_import_recreates_identical_links(db, tmp_path):
    now = timezone.now()
    Link.objects.create_link(
        target_url="https://example.com/straße/ünïcode?q=ä#frag",
        short_code="unicode",
        created_at=now - timedelta(days=30, microseconds=1234),
        max_clicks=10,
    )
    Link.objects.create_link(target_url="https://example.com/dash", short_code="-dash")
    Link.objects.create_link(
        target_url="https://example.com/off", short_code="off", is_active=False
    )
    Link.objects.create_link(
        target_url="https://example.com/old",
        short_code="old",
        expires_at=now - timedelta(days=1),
    )
    Link.objects.create_link(target_url="https://example.com/gen")
    Link.objects.filter(short_code__in=["unicode", "old"]).update(
        click_count=7, last_access_at=now - timedelta(hours=3, microseconds=9)
    )
    before = snapshot()
    first = tmp_path / "first.csv"
    run("export_links", "-o", str(first))
    assert "'-dash," in first.read_text()

    Link.objects.all().delete()
    output = run("import_links", str(first))

    assert snapshot() == before
    assert "created 5, existed 0, invalid 0" in output.out
    second = tmp_path / "second.csv"
    run("export_links", "-o", str(second))
    assert second.read_bytes() == first.read_bytes()


def test_dry_run_reports_what_would_happen_and_creates_nothing(db, tmp_path):
    Link.objects.create_link(target_url="https://example.com/", short_code="taken")
    path = write_csv(
        tmp_path / "links.csv",
        "https://example.com/a,new",
        "https://example.com/b,taken",
        "https://example.com/c",
    )

    output = run("import_links", path, "--dry-run", "-v", "2")

    assert list(Link.objects.values_list("short_code", flat=True)) == ["taken"]
    assert "line 2: short code 'taken' exists; skipped." in output.out
    assert "Dry run, nothing written: would create 2, existed 1, invalid 0." in (
        output.out
    )


def test_dry_run_with_invalid_rows_fails_and_creates_nothing(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv", "https://example.com/a,fine", "ftp://x.org/,bad"
    )

    output, error = run_failing("import_links", path, "--dry-run")

    assert Link.objects.count() == 0
    assert "line 2: target_url: Only http:// and https://" in output.err
    assert error == "1 invalid row; nothing was written (dry run)."


def test_rerun_skips_existing_codes_without_duplicating_or_overwriting(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        "short_code,target_url",
        "one,https://example.com/1",
        "two,https://example.com/2",
    )
    run("import_links", path)
    Link.objects.filter(short_code="one").update(target_url="https://changed.org/")

    output = run("import_links", path)

    assert "created 0, existed 2, invalid 0" in output.out
    assert Link.objects.count() == 2
    assert Link.objects.get(short_code="one").target_url == "https://changed.org/"


def test_existing_rows_are_listed_only_when_verbose(db, tmp_path):
    Link.objects.create_link(target_url="https://example.com/", short_code="taken")
    path = write_csv(tmp_path / "links.csv", "https://example.com/b,taken")

    quiet = run("import_links", path)
    verbose = run("import_links", path, "-v", "2")

    assert "line 1" not in quiet.out
    assert "line 1: short code 'taken' exists; skipped." in verbose.out


def test_code_repeated_within_the_file_is_created_once(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        "https://example.com/first,twice",
        "https://example.com/second,twice",
    )

    dry = run("import_links", path, "--dry-run")
    real = run("import_links", path)

    assert "would create 1, existed 1" in dry.out
    assert "created 1, existed 1" in real.out
    assert Link.objects.get().target_url == "https://example.com/first"


def test_invalid_rows_are_reported_by_line_and_valid_rows_still_imported(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        HEADER,
        "good1,,https://example.com/1,,,,0,,true",
        "js,,javascript:alert(1),,,,0,,true",
        "admin,,https://example.com/2,,,,0,,true",
        '"multi\nline",,https://example.com/3,,,,0,,true',
        "limit,,https://example.com/4,,,0,0,,true",
        "when,,https://example.com/5,yesterday,,,0,,true",
        "flag,,https://example.com/6,,,,0,,maybe",
        "good2,,https://example.com/7,,,5,0,,false",
        "short,,https://example.com/8",
    )

    output, error = run_failing("import_links", path)

    assert output.err.splitlines() == [
        "line 3: target_url: Only http:// and https:// URLs can be shortened, "
        "not 'javascript:' URLs.",
        "line 4: short_code: 'admin' is reserved for TinyLink's own pages; "
        "choose another code.",
        "line 5: short_code: A short code is 1 to 64 characters of letters, "
        "digits, '-' and '_'.",
        "line 7: max_clicks: A click limit is at least 1.",
        "line 8: created_at: “yesterday” value has an invalid format. It must be "
        "in YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ] format.",
        "line 9: is_active: Enter true or false.",
        "line 11: expected 9 cells, found 3.",
    ]
    assert error.startswith("7 invalid rows; the valid rows were imported")
    assert "created 2, existed 0, invalid 7" in output.out
    assert sorted(
        Link.objects.values_list("short_code", "max_clicks", "is_active")
    ) == [("good1", None, True), ("good2", 5, False)]


def test_one_row_with_several_errors_reports_each(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        "short_code,target_url,max_clicks,expires_at",
        "bad code,notaurl,abc,2024-02-30T00:00:00Z",
    )

    output, _ = run_failing("import_links", path)

    assert output.err.splitlines() == [
        "line 2: short_code: A short code is 1 to 64 characters of letters, "
        "digits, '-' and '_'.",
        "line 2: target_url: Enter a full web address starting with http:// or "
        "https://, like https://example.com/page.",
        "line 2: expires_at: “2024-02-30T00:00:00Z” value has the correct format "
        "(YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ]) but it is an invalid date/time.",
        "line 2: max_clicks: “abc” value must be an integer.",
    ]


def test_out_of_range_timestamp_is_a_row_error_not_a_crash(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        "short_code,target_url,expires_at",
        "far,https://example.com/,9999-12-31T23:59:59-05:00",
        "ok,https://example.com/,2030-01-01T00:00:00+02:00",
    )

    output, _ = run_failing("import_links", path)

    assert output.err == (
        "line 2: expires_at: The date and time is out of range in UTC.\n"
    )
    assert Link.objects.get().expires_at == datetime(2029, 12, 31, 22, tzinfo=UTC)


def test_timestamp_without_offset_is_utc(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        "target_url,short_code,created_at",
        "https://example.com/,naive,2024-05-06T07:08:09",
    )

    run("import_links", path)

    assert Link.objects.get().created_at == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_header_columns_in_any_order_with_optional_columns_left_out(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        " Target_URL ,is_active,short_code",
        "https://example.com/x,false,'-x",
    )

    run("import_links", path)

    link = Link.objects.get()
    assert (link.short_code, link.target_url, link.is_active) == (
        "-x",
        "https://example.com/x",
        False,
    )
    assert (link.click_count, link.last_access_at, link.max_clicks) == (0, None, None)


def test_header_without_target_url_column_fails(db, tmp_path):
    path = write_csv(tmp_path / "links.csv", "short_code,expires_at", "a,")

    _, error = run_failing("import_links", path)

    assert error == f"{path}, line 1: the header has no 'target_url' column."


def test_header_with_unknown_column_fails(db, tmp_path):
    path = write_csv(tmp_path / "links.csv", "short_code,target_url,expires", "a,b,c")

    _, error = run_failing("import_links", path)

    assert error.startswith(f"{path}, line 1: unknown column 'expires'")
    assert Link.objects.count() == 0


def test_plain_two_column_file_imports_with_the_given_codes(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        "https://example.com/a,code-a",
        "",
        "https://example.com/b , code-b",
    )

    output = run("import_links", path)

    assert "created 2, existed 0, invalid 0" in output.out
    assert sorted(Link.objects.values_list("short_code", "target_url")) == [
        ("code-a", "https://example.com/a"),
        ("code-b", "https://example.com/b"),
    ]


def test_plain_one_column_file_gets_generated_codes(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv", "https://example.com/a", "https://example.com/b,"
    )

    run("import_links", path)

    links = list(Link.objects.order_by("target_url"))
    assert [link.target_url for link in links] == [
        "https://example.com/a",
        "https://example.com/b",
    ]
    assert all(len(link.short_code) == 7 for link in links)


def test_plain_row_with_too_many_cells_is_invalid(db, tmp_path):
    path = write_csv(tmp_path / "links.csv", "https://example.com/a,code,extra")

    output, _ = run_failing("import_links", path)

    assert output.err == "line 1: expected target_url[,short_code], found 3 cells.\n"


def test_owner_option_sets_the_owner_of_imported_links(user, tmp_path):
    path = write_csv(tmp_path / "links.csv", "https://example.com/a,mine")

    run("import_links", path, "--owner", "alice")

    assert Link.objects.get().owner == user


def test_links_have_no_owner_without_the_option(user, tmp_path):
    path = write_csv(tmp_path / "links.csv", "https://example.com/a,nobody")

    run("import_links", path)

    assert Link.objects.get().owner is None


def test_unknown_owner_fails_and_imports_nothing(db, tmp_path):
    path = write_csv(tmp_path / "links.csv", "https://example.com/a,x")

    _, error = run_failing("import_links", path, "--owner", "carol")

    assert error == "No user named 'carol'."
    assert Link.objects.count() == 0
