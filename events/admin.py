"""Operators' read-only view of events and measures: recent events found by user, type or id,
every measure, and a user's measures on the user's page. Events come in only through
`events.services.events_record`, so nothing here adds, edits or deletes."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from events.models import Event, Measure
from events.selectors import measure_list_for_user
from users.admin import UserAdmin


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "user", "type", "value", "occurred_at", "received_at", "sent_by"]
    # "=event_id": an id is found whole; usernames and types by any part.
    search_fields = ["=event_id", "user__username", "type"]
    search_help_text = _("Search by event id (exact), username or event type.")
    list_select_related = ["user", "sent_by"]
    ordering = ["-id"]
    list_per_page = 50
    # Millions of events need no exact count for the search results.
    show_full_result_count = False


@admin.register(Measure)
class MeasureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "user",
        "type",
        "event_count",
        "value_sum",
        "days",
        "longest_streak",
        "last_occurred_at",
    ]
    search_fields = ["user__username", "type"]
    search_help_text = _("Search by username or event type.")
    list_select_related = ["user"]
    ordering = ["user__username", "type"]
    show_full_result_count = False


@admin.display(description=_("event measures"))
def event_measures(modeladmin, user) -> str:
    """The user's measures per event type, as a read-only table on the user's page (a table,
    not an inline: an inline would add a formset every save of the page must carry)."""
    if user.pk is None:
        return "—"
    rows = measure_list_for_user(user)
    if not rows:
        return _("No events yet.")
    header = format_html(
        "<tr>{}</tr>",
        format_html_join(
            "",
            "<th>{}</th>",
            (
                (label,)
                for label in (
                    _("type"),
                    _("count"),
                    _("sum"),
                    _("days"),
                    _("longest streak"),
                    _("last occurred at"),
                )
            ),
        ),
    )
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (m.type, m.event_count, m.value_sum, m.days, m.longest_streak, m.last_occurred_at)
            for m in rows
        ),
    )
    return format_html("<table>{}{}</table>", header, body)


# The user admin belongs to users (below this app); the measures part of it belongs here.
# A method of the user admin, so that its `fields` (which name fields) can list it.
UserAdmin.event_measures = event_measures
UserAdmin.readonly_fields = [*UserAdmin.readonly_fields, "event_measures"]
UserAdmin.fields = [*UserAdmin.fields, "event_measures"]
