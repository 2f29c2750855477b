"""Importing links from CSV: the export's own format (a header row, columns in
any order) or plain `target_url[,short_code]` rows without a header.

Every row goes through the model's validation, so an import accepts exactly
what the API accepts. The file is read row by row and inserted in batches, each
in its own transaction, so memory stays flat and a stopped import can simply be
run again: rows whose short code exists are skipped, never overwritten.
"""

import codecs
import csv
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from links.exports import EXPORT_HEADER, restore_cell
from links.models import Link, ShortCodeTaken

BATCH_SIZE = 500
PROGRESS_EVERY = 10_000
REQUIRED_COLUMNS = ("short_code", "target_url")
# Derived from the code and PUBLIC_BASE_URL, so the importer has no use for it.
IGNORED_COLUMNS = frozenset({"short_url"})
PLAIN_COLUMNS = ("target_url", "short_code")
_DATETIME_FIELDS = ("created_at", "expires_at", "last_access_at")
_BOOLEANS = {"true": True, "false": False}
_READ_CHUNK = 1 << 20


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message is one line."""


@dataclass
class ImportResult:
    created: int = 0
    existed: int = 0
    invalid: int = 0
    dry_run: bool = False

    @property
    def rows(self):
        return self.created + self.existed + self.invalid


def import_links(
    *,
    path,
    owner=None,
    dry_run=False,
    report=None,
    progress=None,
    batch_size=None,
    progress_every=None,
):
    """Import the CSV file at `path`; return an ImportResult.

    `report(line, status, message)` hears about each row that is "invalid"
    (one call per problem) or that "exists"; `progress(result)` is called
    every `progress_every` rows (default PROGRESS_EVERY). Each transaction
    inserts up to `batch_size` rows (default BATCH_SIZE). With `dry_run`
    everything is checked and counted but nothing is written. Raises
    ImportFileError when the file cannot be read, is not UTF-8, is empty, has
    a bad header or is not valid CSV.
    """
    # Checked before the first insert: a bad byte at line 90,000 must not
    # leave an import that stopped half way.
    _check_utf8(path)
    try:
        # utf-8-sig: spreadsheet programs like to start UTF-8 files with a BOM.
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    with handle:
        importer = _Importer(
            owner=owner,
            dry_run=dry_run,
            report=report or _ignore,
            batch_size=batch_size or BATCH_SIZE,
        )
        progress_every = progress_every or PROGRESS_EVERY
        columns, rows = _columns(_records(handle, path), path)
        try:
            for count, (line, cells) in enumerate(rows, start=1):
                importer.add(line, cells, columns)
                if progress is not None and count % progress_every == 0:
                    importer.flush()
                    progress(importer.result)
        except ImportFileError:
            # The rows before a broken record are fine: keep them, so that
            # running the repaired file again only adds the rest.
            importer.flush()
            raise
        importer.flush()
    return importer.result


def _ignore(*args):
    pass


def _check_utf8(path):
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    try:
        with open(path, "rb") as raw:
            while chunk := raw.read(_READ_CHUNK):
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    line += chunk.count(b"\n", 0, max(exc.start - pending, 0))
                    raise ImportFileError(
                        f"{path} is not UTF-8 text (line {line}); "
                        "save it as UTF-8 and run again."
                    ) from None
                line += chunk.count(b"\n")
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportFileError(
            f"{path} is not UTF-8 text (it ends inside a character); "
            "save it as UTF-8 and run again."
        ) from None


def _records(handle, path):
    """Yield (line, cells) for each non-blank CSV record, `line` being where
    the record starts: a quoted cell may span several lines."""
    reader = csv.reader(handle)
    next_line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(
                f"{path}, line {reader.line_num}: not valid CSV ({exc})."
            ) from None
        line, next_line = next_line, reader.line_num + 1
        if any(cell.strip() for cell in cells):
            yield line, cells


def _columns(rows, path):
    """(field name of each column, the data rows): the names come from the
    header row when the file has one, else they are the plain format's."""
    first = next(rows, None)
    if first is None:
        raise ImportFileError(f"{path} is empty.")
    line, cells = first
    names = [cell.strip().lower() for cell in cells]
    # A plain file starts with a URL, which is never a column name.
    if names[0] not in EXPORT_HEADER:
        return PLAIN_COLUMNS, itertools.chain([first], rows)
    for name in names:
        if name not in EXPORT_HEADER:
            raise ImportFileError(
                f"{path}, line {line}: unknown column {name!r}; the columns are "
                f"{','.join(EXPORT_HEADER)}."
            )
        if names.count(name) > 1:
            raise ImportFileError(f"{path}, line {line}: column {name!r} repeats.")
    for name in REQUIRED_COLUMNS:
        if name not in names:
            raise ImportFileError(
                f"{path}, line {line}: the header has no {name!r} column."
            )
    return tuple(names), rows


class _Importer:
    """Validates rows as they come and inserts them a batch at a time."""

    def __init__(self, *, owner, dry_run, report, batch_size):
        self.owner = owner
        self.dry_run = dry_run
        self.report = report
        self.batch_size = batch_size
        self.result = ImportResult(dry_run=dry_run)
        self.batch = []
        # Nothing reaches the database in a dry run, so codes repeated within
        # the file are caught here (a set of codes, not of rows).
        self.seen_codes = set()

    def add(self, line, cells, columns):
        link, errors = _validated_link(cells, columns, owner=self.owner)
        if errors:
            self._invalid(line, errors)
            return
        self.batch.append((line, link))
        if len(self.batch) >= self.batch_size:
            self.flush()

    def flush(self):
        batch, self.batch = self.batch, []
        if not batch:
            return
        if self.dry_run:
            existing = _existing_codes(batch)
            for line, link in batch:
                code = link.short_code
                if code and (code in existing or code in self.seen_codes):
                    self._exists(line, code)
                    continue
                if code:
                    self.seen_codes.add(code)
                self.result.created += 1
            return
        with transaction.atomic():
            # Inside the transaction: on SQLite it holds the write lock, so
            # the check cannot race; on PostgreSQL ShortCodeTaken catches it.
            existing = _existing_codes(batch)
            if _insert_all(batch, existing):
                self.result.created += len(batch)
            else:
                self._insert_each(batch, existing)

    def _insert_each(self, batch, existing):
        for line, link in batch:
            code = link.short_code
            if code and code in existing:
                self._exists(line, code)
                continue
            try:
                link.insert_new()
            except ShortCodeTaken:
                # Each insert has its own savepoint: the batch goes on.
                self._exists(line, code)
                continue
            except IntegrityError as exc:
                # A database constraint that the row checks do not know.
                first_line = str(exc).splitlines()[0]
                self._invalid(line, [f"the database refused the row: {first_line}"])
                continue
            existing.add(code)
            self.result.created += 1

    def _invalid(self, line, messages):
        self.result.invalid += 1
        for message in messages:
            self.report(line, "invalid", message)

    def _exists(self, line, code):
        self.result.existed += 1
        self.report(line, "exists", f"short code {code!r} exists; skipped.")


def _existing_codes(batch):
    codes = {link.short_code for _, link in batch if link.short_code}
    return set(
        Link.objects.filter(short_code__in=codes).values_list("short_code", flat=True)
    )


def _insert_all(batch, existing):
    """Insert the batch with one statement if no row is known to conflict:
    the common case, and 1.5 times as fast as a savepoint per row. False,
    with nothing written, when a row needs the row-by-row path."""
    links = [link for _, link in batch]
    codes = {link.short_code for link in links}
    if "" in codes or len(codes) < len(links) or codes & existing:
        return False
    try:
        with transaction.atomic():
            # Like Link.save on INSERT, bulk_create writes every field.
            Link.objects.bulk_create(links)
    except IntegrityError:
        return False
    return True


def _validated_link(cells, columns, *, owner):
    """(unsaved Link, []) for a valid row, else (None, ["field: message", ...])."""
    if columns is PLAIN_COLUMNS:
        if len(cells) > len(columns):
            return None, [
                f"expected target_url[,short_code], found {len(cells)} cells."
            ]
    elif len(cells) != len(columns):
        return None, [f"expected {len(columns)} cells, found {len(cells)}."]
    fields = {}
    for name, cell in zip(columns, cells, strict=False):
        value = restore_cell(cell).strip()
        if value and name not in IGNORED_COLUMNS:
            fields[name] = value
    errors = {}
    if "is_active" in fields:
        flag = _BOOLEANS.get(fields.pop("is_active").lower())
        if flag is None:
            errors["is_active"] = ["Enter true or false."]
        else:
            fields["is_active"] = flag
    # Counters and created_at are set on the instance: an INSERT writes every
    # field, which is how an export's history survives the round trip.
    link = Link(owner=owner, **fields)
    # The owner was looked up by the caller; checking it per row costs a query.
    exclude = {"owner", *errors}
    if not link.short_code:
        exclude.add("short_code")
    try:
        # Django checks Meta.constraints with a query each, which took 95% of
        # an import's time. The field validators cover all of them except
        # click_count >= 0, checked below; and the database still enforces
        # every one at insert, where a refusal becomes a row error.
        link.full_clean(
            exclude=exclude, validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if "click_count" not in errors and link.click_count < 0:
        errors["click_count"] = ["A click count is 0 or more."]
    for name in _DATETIME_FIELDS:
        if name not in errors:
            try:
                setattr(link, name, _as_utc(getattr(link, name)))
            except OverflowError:
                errors[name] = ["The date and time is out of range in UTC."]
    if errors:
        return None, _messages(errors)
    return link, []


def _as_utc(value):
    # Timestamps without an offset are in TIME_ZONE (UTC), as elsewhere in
    # Django; converting here, not at save time, turns an out-of-range value
    # into a row error instead of a crash half way through a batch.
    if not isinstance(value, datetime):
        return value
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value.astimezone(UTC)


def _messages(errors):
    order = {name: index for index, name in enumerate(EXPORT_HEADER)}
    messages = []
    for name in sorted(errors, key=lambda name: order.get(name, len(order))):
        prefix = "" if name == NON_FIELD_ERRORS else f"{name}: "
        messages.extend(f"{prefix}{message}" for message in errors[name])
    return messages
