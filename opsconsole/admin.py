import json
import shlex

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from opsconsole import status
from opsconsole.backups.catalog import list_backups
from opsconsole.backups.store import backup_store
from opsconsole.models import ACTIVE, OpsKind, OpsRun, Schedule
from opsconsole.operations import OPERATIONS, queueable_kinds

SUMMARY_DISPLAY_CHARS = 100
# The run page reloads itself this often while the run is queued or running.
REFRESH_SECONDS = 3


def _pretty_json(value):
    return format_html(
        '<pre class="ops-pre">{}</pre>', json.dumps(value, indent=2, sort_keys=True)
    )


def restore_command(artifact):
    return f"python manage.py restore {shlex.quote(str(artifact))}"


@admin.register(OpsRun)
class OpsRunAdmin(admin.ModelAdmin):
    list_display = [
        "run",
        "kind",
        "status_label",
        "trigger",
        "created_at",
        "duration",
        "summary_text",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["trigger", "summary", "artifact_path"]
    ordering = ["-created_at", "-pk"]
    actions = ["mark_failed"]
    fieldsets = [
        (None, {"fields": ["kind", "status_label", "trigger", "options_json"]}),
        ("Timing", {"fields": ["created_at", "started_at", "finished_at", "duration"]}),
        ("Result", {"fields": ["summary", "output_text", "result_json"]}),
        (
            "Artifact",
            {"fields": ["artifact_path", "artifact_size_text", "artifact_sha256"]},
        ),
    ]
    readonly_fields = [
        "kind",
        "status_label",
        "trigger",
        "options_json",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "summary",
        "output_text",
        "result_json",
        "artifact_path",
        "artifact_size_text",
        "artifact_sha256",
    ]

    # Runs are records: queued by the buttons, written by the operations.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_queue_permission(self, request):
        return request.user.has_perm("opsconsole.add_opsrun")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "operations/",
                wrap(self.operations_view),
                name="opsconsole_opsrun_operations",
            ),
            path("backups/", wrap(self.backups_view), name="opsconsole_opsrun_backups"),
            path(
                "queue/<str:kind>/",
                wrap(require_POST(self.queue_view)),
                name="opsconsole_opsrun_queue",
            ),
            *super().get_urls(),
        ]

    # --- list and run page ---------------------------------------------------

    @admin.display(description="run", ordering="pk")
    def run(self, obj):
        return f"#{obj.pk}"

    @admin.display(description="status", ordering="status")
    def status_label(self, obj):
        return format_html(
            '<span class="ops-status ops-status-{}">{}</span>',
            obj.status,
            obj.get_status_display(),
        )

    @admin.display(description="duration")
    def duration(self, obj):
        if obj.duration_seconds is None:
            return "—"
        return f"{obj.duration_seconds:.1f} s"

    @admin.display(description="summary")
    def summary_text(self, obj):
        return Truncator(obj.summary).chars(SUMMARY_DISPLAY_CHARS)

    @admin.display(description="output")
    def output_text(self, obj):
        return format_html('<pre class="ops-pre" id="ops-output">{}</pre>', obj.output)

    @admin.display(description="result")
    def result_json(self, obj):
        return _pretty_json(obj.result)

    @admin.display(description="options")
    def options_json(self, obj):
        return _pretty_json(obj.options)

    @admin.display(description="artifact size")
    def artifact_size_text(self, obj):
        if obj.artifact_size is None:
            return "—"
        return f"{filesizeformat(obj.artifact_size)} ({obj.artifact_size} bytes)"

    def changelist_view(self, request, extra_context=None):
        context = {**self._tools_context(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {
            **self._tools_context(request),
            "refresh_seconds": REFRESH_SECONDS,
            "active_statuses": ACTIVE,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    @admin.action(
        description="Mark selected queued or stuck runs as failed",
        permissions=["queue"],
    )
    def mark_failed(self, request, queryset):
        # A worker killed mid-run leaves its run "running" forever, which
        # also holds back that kind's schedule.
        count = queryset.mark_failed(
            f"Marked failed by admin:{request.user.get_username()}."
        )
        self.message_user(request, f"Marked {count} run(s) failed.", messages.SUCCESS)

    # --- the operations pages ------------------------------------------------

    def _tools_context(self, request):
        return {
            "queue_buttons": [
                (
                    reverse("admin:opsconsole_opsrun_queue", args=[kind]),
                    OPERATIONS[kind].button,
                )
                for kind in queueable_kinds()
            ]
            if self.has_queue_permission(request)
            else [],
            "operations_url": reverse("admin:opsconsole_opsrun_operations"),
            "backups_url": reverse("admin:opsconsole_opsrun_backups"),
        }

    def _require_view_permission(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _page(self, request, template, title, **context):
        context = {
            **self.admin_site.each_context(request),
            **self._tools_context(request),
            "opts": self.opts,
            "title": title,
            **context,
        }
        return TemplateResponse(request, template, context)

    def operations_view(self, request):
        self._require_view_permission(request)
        facts = status.gather_facts(storage=True)
        schedules = Schedule.objects.select_related("last_run")
        return self._page(
            request,
            "admin/opsconsole/operations.html",
            "Operations",
            facts=facts,
            warnings=facts.warnings(),
            backup_max_age=settings.BACKUP_MAX_AGE,
            sizes={
                "database": filesizeformat(facts.database_size),
                "wal": filesizeformat(facts.wal_size)
                if facts.wal_size is not None
                else "not measured on this engine",
                "backups": filesizeformat(facts.backups_on_disk_bytes),
                "last_backup": filesizeformat(facts.newest_backup.size)
                if facts.newest_backup
                else "—",
            },
            schedules=[(s, s.is_overdue(facts.now)) for s in schedules],
            stale_seconds=settings.OPS_WORKER_STALE_SECONDS,
            active=OpsRun.objects.active().select_related("lease").defer("output"),
        )

    def backups_view(self, request):
        self._require_view_permission(request)
        store = backup_store()
        backups = list_backups(store=store)
        verified = OpsRun.objects.last_verifications([b.location for b in backups])
        rows = [
            {
                "backup": backup,
                "name": backup.name,
                "manifest": backup.manifest,
                "manifest_json": json.dumps(backup.manifest, indent=2, sort_keys=True),
                "created_at": backup.created_at,
                "size": filesizeformat(backup.size),
                "links": backup.manifest.get("row_counts", {}).get("links_link"),
                "verification": verified.get(backup.location),
                "drill": backup.drill,
                "restore_command": restore_command(backup.name),
            }
            for backup in backups
        ]
        return self._page(
            request,
            "admin/opsconsole/backups.html",
            "Backups",
            rows=rows,
            backup_dir=store.where(),
        )

    def queue_view(self, request, kind):
        if kind not in queueable_kinds():
            raise Http404("The admin does not queue this operation.")
        if not self.has_queue_permission(request):
            raise PermissionDenied
        run, created = OpsRun.objects.queue(
            kind, trigger=f"admin:{request.user.get_username()}"
        )
        if created:
            self.message_user(
                request,
                f"Queued {run.get_kind_display().lower()} run #{run.pk}: "
                "manage.py opsworker runs it, and this page shows its progress.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                f"A {run.get_kind_display().lower()} run is already {run.status} "
                f"(#{run.pk}); no second one was queued.",
                messages.WARNING,
            )
        return HttpResponseRedirect(
            reverse(
                "admin:opsconsole_opsrun_change",
                args=[run.pk],
            )
        )


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = ["kind", "enabled", "interval_hours", "next_run_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            # Only what the worker can run.
            self.fields["kind"].choices = [
                (kind, label)
                for kind, label in OpsKind.choices
                if kind in queueable_kinds()
            ]

    def clean_interval_hours(self):
        hours = self.cleaned_data["interval_hours"]
        if hours < 1:
            raise forms.ValidationError("At least 1 hour.")
        return hours


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = [
        "kind",
        "enabled",
        "interval_hours",
        "next_run_at",
        "last_run_link",
        "overdue",
    ]
    list_editable = ["enabled", "interval_hours"]
    readonly_fields = ["last_run_link", "overdue"]

    def get_fields(self, request, obj=None):
        fields = ["kind", "enabled", "interval_hours", "next_run_at"]
        return fields if obj is None else [*fields, "last_run_link", "overdue"]

    def get_readonly_fields(self, request, obj=None):
        # One schedule per kind: change its interval, not what it runs.
        return self.readonly_fields if obj is None else ["kind", *self.readonly_fields]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("last_run")

    @admin.display(description="last run")
    def last_run_link(self, obj):
        if obj.last_run is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:opsconsole_opsrun_change", args=[obj.last_run_id]),
            obj.last_run,
        )

    @admin.display(description="overdue")
    def overdue(self, obj):
        if obj.pk is None or not obj.is_overdue():
            return "—"
        return format_html(
            '<strong class="ops-overdue">Overdue</strong> by {}: is '
            "<code>manage.py opsworker</code> running?",
            timesince(obj.next_run_at),
        )
