"""The API's JSON parser: DRF's own, with a bound on how deeply a body nests.

Python's json module recurses once per level of nesting. Near the interpreter's
recursion limit (about 1,000 levels, fewer inside Django's call stack) it
raises RecursionError, which no client error handler expects: it became a 500.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# A link is an object of scalars, a bulk request a list of them: two levels.
# Far more than any valid body needs, far less than recursion can bear.
MAX_NESTING = 32
_TOO_DEEP = f"JSON nested more than {MAX_NESTING} levels deep is refused."


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_TOO_DEEP) from None
        if _nesting_exceeds(data, MAX_NESTING):
            # Parsed, but code that walks it recursively would still fail.
            raise ParseError(_TOO_DEEP)
        return data


def _nesting_exceeds(value, limit):
    """True when lists and objects in `value` nest deeper than `limit`.
    Walked with a stack of its own, so the walk cannot recurse too deeply."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
