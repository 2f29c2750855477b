"""Integrity checks: the engine's own (pages, indexes, foreign keys) and
TinyLink's invariants. Every finding is listed; none is fixed here."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, transaction

from links.codes import validate_short_code
from links.targets import validate_target_url
from opsconsole.engines import engine_for
from opsconsole.results import OperationResult

# Application invariants that SQL can check on any engine.
_INVARIANT_QUERIES = [
    ("negative click count", "SELECT short_code FROM links_link WHERE click_count < 0"),
    (
        "click limit below 1",
        "SELECT short_code FROM links_link "
        "WHERE max_clicks IS NOT NULL AND max_clicks < 1",
    ),
    (
        "negative daily clicks",
        "SELECT l.short_code FROM links_linkdailyclicks d JOIN links_link l "
        "ON l.id = d.link_id WHERE d.clicks < 0",
    ),
    (
        "daily clicks add up to more than the total",
        "SELECT l.short_code FROM links_link l JOIN links_linkdailyclicks d "
        "ON d.link_id = l.id GROUP BY l.id, l.short_code, l.click_count "
        "HAVING SUM(d.clicks) > l.click_count",
    ),
    (
        "daily clicks of a link that does not exist",
        "SELECT CAST(d.link_id AS VARCHAR(20)) FROM links_linkdailyclicks d "
        "LEFT JOIN links_link l ON l.id = d.link_id WHERE l.id IS NULL",
    ),
    (
        "duplicate short code",
        "SELECT short_code FROM links_link GROUP BY short_code HAVING COUNT(*) > 1",
    ),
]
MAX_EXAMPLES = 5
BATCH = 5000


@dataclass
class Finding:
    check: str
    detail: str

    def __str__(self):
        return f"{self.check}: {self.detail}"


@dataclass
class IntegrityResult(OperationResult):
    findings: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    checked: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.findings

    @property
    def summary(self):
        if self.ok:
            return "Integrity check passed: no findings."
        return f"Integrity check found {len(self.findings)} problem(s)."

    def as_dict(self):
        return {
            "ok": self.ok,
            "findings": [{"check": f.check, "detail": f.detail} for f in self.findings],
            "notes": self.notes,
            "checked": self.checked,
        }

    def details(self):
        return [f"note: {note}" for note in self.notes] + [
            f"FINDING {finding}" for finding in self.findings
        ]


def _examples(rows):
    shown = ", ".join(str(row[0]) for row in rows[:MAX_EXAMPLES])
    more = f" and {len(rows) - MAX_EXAMPLES} more" if len(rows) > MAX_EXAMPLES else ""
    return f"{shown}{more}"


def check_integrity(*, alias="default", progress=None):
    engine = engine_for(alias)
    result = IntegrityResult()
    engine_findings, notes = engine.check_storage()
    result.findings += [Finding(check, detail) for check, detail in engine_findings]
    result.notes += notes
    result.checked.append(f"{engine.vendor} storage")
    connection = connections[alias]
    for name, query in _INVARIANT_QUERIES:
        try:
            with transaction.atomic(using=alias), connection.cursor() as cursor:
                cursor.execute(query)
                rows = cursor.fetchall()
        except DatabaseError as exc:
            # A damaged page can make the query itself fail: that is a
            # finding too, not a reason to stop checking.
            result.findings.append(Finding(name, f"could not be checked: {exc}"))
            continue
        if rows:
            result.findings.append(Finding(name, _examples(rows)))
        result.checked.append(name)
    try:
        result.findings += _check_rows_against_rules(connection, progress)
        result.checked.append("short codes and targets follow the rules")
    except DatabaseError as exc:
        result.findings.append(
            Finding("short codes and targets", f"could not be read: {exc}")
        )
    return result


def _check_rows_against_rules(connection, progress):
    """Stream every link through the same validators the API uses."""
    bad_codes, bad_targets, seen = [], [], 0
    last_id = 0
    with connection.cursor() as cursor:
        while True:
            # Keyset pagination: constant memory, no long-held cursor.
            cursor.execute(
                "SELECT id, short_code, target_url FROM links_link WHERE id > %s "
                "ORDER BY id LIMIT %s",
                [last_id, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            for _, code, target in rows:
                try:
                    validate_short_code(code)
                except ValidationError:
                    # Reserved words may predate the reservation; only the
                    # charset and length are integrity problems.
                    if not (1 <= len(code) <= 64) or not all(
                        ch.isascii() and (ch.isalnum() or ch in "-_") for ch in code
                    ):
                        bad_codes.append((code,))
                try:
                    validate_target_url(target)
                except ValidationError:
                    bad_targets.append((code,))
            seen += len(rows)
            last_id = rows[-1][0]
            if progress:
                progress(seen, None)
    findings = []
    if bad_codes:
        findings.append(Finding("invalid short code", _examples(bad_codes)))
    if bad_targets:
        findings.append(Finding("invalid target URL", _examples(bad_targets)))
    return findings
