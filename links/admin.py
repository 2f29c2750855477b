from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from links.auth import KEY_PREFIX, hash_key, new_key
from links.models import ApiToken, Link


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ["short_code", "target_url", "owner", "click_count", "expires_at"]
    search_fields = ["short_code", "target_url"]
    readonly_fields = ["click_count", "last_access_at", "created_at", "updated_at"]
    list_select_related = ["owner"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "key_prefix",
        "user",
        "name",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "created_at"]
    list_select_related = ["user"]
    search_fields = ["key_prefix", "name", "user__username"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "expires_at", *readonly_fields]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if not change:
            # The key exists only in this response; the database keeps its hash.
            key = new_key()
            obj.key_prefix = key[: len(KEY_PREFIX) + 7]
            obj.key_hash = hash_key(key)
            request._new_api_key = key
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "token": obj,
            "key": request._new_api_key,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/links/apitoken/created.html", context)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
