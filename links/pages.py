"""The web UI for link owners: list + create, detail with stats, edit, delete."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from links.charts import clicks_chart_svg
from links.forms import LinkCreateForm, LinkEditForm
from links.models import Link, LinkState, ShortCodeTaken

PAGE_SIZE = 25
CHART_DAYS = (30, 90)
# My links' sort choices: the value in ?sort=, its label, its ordering. Links
# never followed sort after the rest either way, on SQLite and PostgreSQL
# alike (they disagree on where NULLs go by default). The primary key breaks
# ties, so pages never repeat or skip a link.
SORTS = {
    "-created": ("Newest first", [F("created_at").desc(), F("pk").desc()]),
    "created": ("Oldest first", [F("created_at").asc(), F("pk").asc()]),
    "-clicks": ("Most clicks", [F("click_count").desc(), F("pk").desc()]),
    "clicks": ("Fewest clicks", [F("click_count").asc(), F("pk").asc()]),
    "-last_access": (
        "Recently followed",
        [F("last_access_at").desc(nulls_last=True), F("pk").desc()],
    ),
    "last_access": (
        "Longest since followed",
        [F("last_access_at").asc(nulls_last=True), F("pk").asc()],
    ),
}
DEFAULT_SORT = "-created"


def home(request):
    if request.user.is_authenticated:
        return redirect("links:list")
    first_run = not get_user_model().objects.exists()
    return render(request, "home.html", {"first_run": first_run})


def _link_or_404(links, code):
    # Not found, rather than forbidden: another user's code is not confirmed.
    return get_object_or_404(links, short_code=code)


@login_required
@require_http_methods(["GET", "POST"])
def link_list(request):
    form = LinkCreateForm(request.POST or None, request_host=request.get_host())
    if request.method == "POST" and form.is_valid():
        try:
            link = Link.objects.create_link(owner=request.user, **form.cleaned_data)
        except ShortCodeTaken as exc:
            form.add_error("short_code", str(exc))
        else:
            messages.success(request, f"Created {link.short_url(request)}")
            return redirect("links:list")
    # NUL cannot occur in a link, and PostgreSQL refuses it in a query.
    query = request.GET.get("q", "").replace("\x00", "").strip()
    # An unknown sort or state (an old bookmark, a typo) falls back to the
    # default rather than failing: the form below shows what is applied.
    sort = request.GET.get("sort", DEFAULT_SORT)
    sort = sort if sort in SORTS else DEFAULT_SORT
    state = request.GET.get("state", "")
    state = state if state in LinkState.values else ""
    now = timezone.now()
    links = Link.objects.owned_by(request.user).order_by(*SORTS[sort][1])
    if query:
        links = links.filter(
            Q(short_code__icontains=query) | Q(target_url__icontains=query)
        )
    if state:
        links = links.in_state(state, now)
    page = Paginator(links, PAGE_SIZE).get_page(request.GET.get("page"))
    for link in page:
        link.state_now = link.state_at(now).value
        link.full_short_url = link.short_url(request)
        link.shown_short_url = _without_scheme(link.full_short_url)
    kept = {"q": query, "sort": sort if sort != DEFAULT_SORT else "", "state": state}
    context = {
        "form": form,
        "page": page,
        "query": query,
        "sort": sort,
        "state": state,
        "sorts": [(value, label) for value, (label, _) in SORTS.items()],
        "states": LinkState.values,
        # What the page links carry along, so paging keeps search, sort, state.
        "kept_query": urlencode({name: v for name, v in kept.items() if v}),
    }
    return render(
        request, "links/list.html", context, status=400 if form.errors else 200
    )


def _without_scheme(url):
    # What people read and say: "sho.rt/abc", not "https colon slash slash".
    return url.split("://", 1)[-1]


@login_required
def link_detail(request, code):
    link = _link_or_404(Link.objects.visible_to(request.user), code)
    days = request.GET.get("days", "30")
    days = int(days) if days.isdigit() and int(days) in CHART_DAYS else 30
    series = link.clicks_by_day(days=days, today=timezone.now().date())
    period_clicks = sum(clicks for _, clicks in series)
    short_url = link.short_url(request)
    context = {
        "link": link,
        "state": link.state.value,
        "short_url": short_url,
        "shown_short_url": _without_scheme(short_url),
        "days": days,
        "day_choices": CHART_DAYS,
        # An empty chart only draws a meaningless "1" axis: the page says so
        # in words instead.
        "chart": period_clicks
        and clicks_chart_svg(series, title=f"Clicks per day, last {days} days"),
        "period_clicks": period_clicks,
        "can_change": link.permits(request.user, "change"),
        "can_delete": link.permits(request.user, "delete"),
    }
    return render(request, "links/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def link_edit(request, code):
    link = _link_or_404(Link.objects.editable_by(request.user), code)
    form = LinkEditForm.for_link(
        link, request.POST or None, request_host=request.get_host()
    )
    if request.method == "POST" and form.is_valid():
        for name, value in form.cleaned_data.items():
            setattr(link, name, value)
        link.save()
        messages.success(request, f"Saved {link.short_code}.")
        return redirect("links:detail", code=link.short_code)
    return render(
        request,
        "links/edit.html",
        {"form": form, "link": link},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def link_delete(request, code):
    link = _link_or_404(Link.objects.deletable_by(request.user), code)
    if request.method == "POST":
        link.delete()
        messages.success(request, f"Deleted {code}.")
        return redirect("links:list")
    return render(request, "links/delete.html", {"link": link})
