import json
import shlex

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.timezone import localtime
from django.views.decorators.http import require_POST

# Registers the schedules' admin: autodiscovery imports only this module.
from opsconsole import admin_schedules, status  # noqa: F401
from opsconsole.backups.catalog import list_backups
from opsconsole.backups.store import backup_store
from opsconsole.models import ACTIVE, OpsRun, Schedule, WorkerHeartbeat
from opsconsole.operations import OPERATIONS, queueable_kinds

# Short enough that the run list fits a 1280 px screen; the run page has it all.
SUMMARY_DISPLAY_CHARS = 60
WORKER_DOCS = "docs/operations.md, “Schedules and the worker”"
# The run page reloads itself this often while the run is queued or running.
REFRESH_SECONDS = 3


def _pretty_json(value):
    return format_html(
        '<pre class="ops-pre">{}</pre>', json.dumps(value, indent=2, sort_keys=True)
    )


def worker_alive():
    """A worker has beaten within OPS_WORKER_STALE_SECONDS."""
    return WorkerHeartbeat.objects.alive().exists()


def restore_command(artifact):
    return f"python manage.py restore {shlex.quote(str(artifact))}"


@admin.register(OpsRun)
class OpsRunAdmin(admin.ModelAdmin):
    # Fits a 1280 px screen beside the filters: the kind is in the run's
    # name, the time in a short format, the summary cut (issue 15, item 10).
    list_display = [
        "run",
        "status_label",
        "trigger",
        "created",
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
        return f"#{obj.pk} {obj.get_kind_display()}"

    @admin.display(description="queued", ordering="created_at")
    def created(self, obj):
        # "3 hours ago" is narrow; the exact time is on hover.
        return format_html(
            '<time datetime="{}" title="{}">{} ago</time>',
            obj.created_at.isoformat(),
            date_format(localtime(obj.created_at), "DATETIME_FORMAT"),
            timesince(obj.created_at, depth=1),
        )

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
            "worker_alive": worker_alive(),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    @admin.action(
        # Short: the action menu is as wide as its longest label.
        description="Mark failed",
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
            worker_docs=WORKER_DOCS,
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
        if created and not worker_alive():
            self.message_user(
                request,
                f"Queued {run.get_kind_display().lower()} run #{run.pk}, but no "
                "worker is running: it will run when `manage.py opsworker` starts "
                f"(`make run` starts one; see {WORKER_DOCS}).",
                messages.WARNING,
            )
        elif created:
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
