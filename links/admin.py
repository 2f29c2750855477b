from django.contrib import admin

from links.models import Link


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ["short_code", "target_url", "owner", "click_count", "expires_at"]
    search_fields = ["short_code", "target_url"]
    readonly_fields = ["click_count", "last_access_at", "created_at", "updated_at"]
    list_select_related = ["owner"]
