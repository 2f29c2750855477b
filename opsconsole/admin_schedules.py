"""The schedules in the admin: one per operation the worker runs."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from opsconsole.models import OpsKind, Schedule
from opsconsole.operations import queueable_kinds


def unscheduled_kinds():
    """The operations the worker runs that have no schedule yet."""
    taken = set(Schedule.objects.values_list("kind", flat=True))
    return [kind for kind in queueable_kinds() if kind not in taken]


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = ["kind", "enabled", "interval_hours", "next_run_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            # Only what the worker can run, and has no schedule yet.
            free = unscheduled_kinds()
            self.fields["kind"].choices = [
                (kind, label) for kind, label in OpsKind.choices if kind in free
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

    def has_add_permission(self, request):
        # One schedule per kind: with every kind scheduled, a new one could
        # only fail on the unique kind.
        return super().has_add_permission(request) and bool(unscheduled_kinds())

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
