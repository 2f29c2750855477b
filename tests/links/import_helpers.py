"""Shared helpers for the import_links command tests."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from links.exports import EXPORT_HEADER
from links.models import Link

HEADER = ",".join(EXPORT_HEADER)
EXPORTED_FIELDS = (
    "short_code",
    "target_url",
    "created_at",
    "expires_at",
    "max_clicks",
    "click_count",
    "last_access_at",
    "is_active",
)


class Output:
    def __init__(self):
        self.stdout, self.stderr = io.StringIO(), io.StringIO()

    @property
    def out(self):
        return self.stdout.getvalue()

    @property
    def err(self):
        return self.stderr.getvalue()


def run(command, *args):
    output = Output()
    call_command(command, *args, stdout=output.stdout, stderr=output.stderr)
    return output


def run_failing(command, *args):
    output = Output()
    with pytest.raises(CommandError) as error:
        call_command(command, *args, stdout=output.stdout, stderr=output.stderr)
    return output, str(error.value)


def write_csv(path, *lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def snapshot():
    return sorted(Link.objects.values_list(*EXPORTED_FIELDS))
