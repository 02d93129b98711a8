"""Operators' admin for users. Saves and deletes go through users.services. Apps above this
one extend `UserAdmin.inlines` and `UserAdmin.actions` (achievements adds the awards inlines
and the bulk-award action) instead of registering the model again."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from core.errors import DomainConflict
from users.models import User, default_time_zone, time_zone_names
from users.services import user_create, user_delete, user_update


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = [
        "username",
        "language",
        "time_zone",
        "achievements_count_display",
        "points_display",
        "longest_streak",
        "created_at",
    ]
    list_filter = ["language"]
    search_fields = ["username"]
    # Username first: it names the player the page is about.
    fields = [
        "username",
        "language",
        "time_zone",
        "created_at",
        "achievements_count_display",
        "points_display",
        "longest_streak",
        "streak_start",
        "streak_end",
    ]
    readonly_fields = [
        "created_at",
        "achievements_count_display",
        "points_display",
        "longest_streak",
        "streak_start",
        "streak_end",
    ]
    list_per_page = 50
    inlines = []
    actions = []
    # A changelist of 100,000 users needs no exact count for its filters.
    show_full_result_count = False

    @admin.display(description=_("points"), ordering="points")
    def points_display(self, obj):
        # Thousands separated in the operator's language: 1,234,567 or 1 234 567.
        return number_format(obj.points, force_grouping=True)

    @admin.display(description=_("achievements"), ordering="achievements_count")
    def achievements_count_display(self, obj):
        return number_format(obj.achievements_count, force_grouping=True)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "time_zone":
            # A list to pick from: a mistyped zone name cannot reach the save.
            return forms.ChoiceField(
                choices=[(name, name) for name in sorted(time_zone_names())],
                initial=default_time_zone,
                label=db_field.verbose_name,
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # The username is the key integrations use in URLs: it does not change once created.
        return ["username", *self.readonly_fields] if obj else self.readonly_fields

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A save the current state forbids (e.g. a zone change racing a rule change of the
        # player's events) is rolled back whole and said on the page, as the API's 409 says it.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainConflict as conflict:
            self.message_user(request, str(conflict), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        if change:
            # user_update compares with the stored zone and recomputes the streak on a change.
            user_update(user=obj, language=obj.language, time_zone=obj.time_zone)
        else:
            created = user_create(
                username=obj.username, language=obj.language, time_zone=obj.time_zone
            )
            obj.pk, obj.created_at = created.pk, created.created_at

    def delete_model(self, request, obj):
        user_delete(user=obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            user_delete(user=user)
