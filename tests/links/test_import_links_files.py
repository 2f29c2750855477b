import pytest

from links import imports
from links.models import Link
from tests.links.import_helpers import (
    run,
    run_failing,
    write_csv,
)


def test_missing_file_fails_with_one_line(db, tmp_path):
    path = tmp_path / "nope.csv"

    _, error = run_failing("import_links", str(path))

    assert error == f"Cannot read {path}: No such file or directory."


def test_non_utf8_file_fails_and_imports_nothing(db, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b"https://example.com/a,first\n"
        b"https://example.com/b,second\n"
        b"https://example.com/caf\xe9,third\n"
    )

    _, error = run_failing("import_links", str(path))

    assert error == (
        f"{path} is not UTF-8 text (line 3); save it as UTF-8 and run again."
    )
    assert Link.objects.count() == 0


def test_empty_file_fails(db, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    _, error = run_failing("import_links", str(path))

    assert error == f"{path} is empty."


def test_file_of_blank_lines_is_empty(db, tmp_path):
    path = write_csv(tmp_path / "blank.csv", "", "  ", ",")

    _, error = run_failing("import_links", path)

    assert error == f"{path} is empty."


def test_byte_order_mark_is_ignored(db, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"\xef\xbb\xbfshort_code,target_url\r\nbom,https://example.com/\r\n"
    )

    run("import_links", str(path))

    assert Link.objects.get().short_code == "bom"


def test_utf8_check_reads_in_chunks_and_finds_the_bad_line(db, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "_READ_CHUNK", 3)
    path = tmp_path / "links.csv"
    # "ü" and "ä" are two bytes each and straddle 3-byte chunk boundaries.
    path.write_bytes(
        "https://example.com/ü,a1\nhttps://example.com/ä,a2\n".encode()
        + b"https://example.com/\xff,a3\n"
    )

    with pytest.raises(imports.ImportFileError, match=r"\(line 3\)"):
        imports.import_links(path=path)

    path.write_bytes(path.read_bytes().replace(b"\xff", b"x"))
    assert imports.import_links(path=path).created == 3


def test_file_ending_inside_a_character_is_not_utf8(db, tmp_path):
    path = tmp_path / "cut.csv"
    path.write_bytes("https://example.com/ü".encode()[:-1])

    _, error = run_failing("import_links", str(path))

    assert error == (
        f"{path} is not UTF-8 text (it ends inside a character); "
        "save it as UTF-8 and run again."
    )


def test_broken_csv_stops_at_its_line_after_importing_the_rows_before(db, tmp_path):
    path = write_csv(
        tmp_path / "links.csv",
        "https://example.com/1,one",
        "https://example.com/2,two",
        '"' + "x" * 200_000 + '"',
        "https://example.com/4,four",
    )

    _, error = run_failing("import_links", path)

    assert error == (
        f"{path}, line 3: not valid CSV (field larger than field limit (131072))."
    )
    assert sorted(Link.objects.values_list("short_code", flat=True)) == ["one", "two"]
