"""Operators' admin for the catalog and awards, and the awards part of the user admin (its
inlines and the bulk-award action, added to users.admin.UserAdmin). Every save, delete, award
and revocation calls achievements.services, so the users' figures stay exact whichever page is
used."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.formats import number_format
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language_info, ngettext
from django.utils.translation import gettext as _now
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin
from modeltranslation.utils import build_localized_fieldname

from achievements.models import ACTIVITY_REASON_MAX_LENGTH, Achievement, Activity, Award, Progress
from achievements.selectors import achievement_goal_frozen
from achievements.services.awards import (
    award_grant,
    award_grant_many,
    award_revoke,
    award_time_validate,
)
from achievements.services.catalog import (
    AchievementInUse,
    GoalFrozen,
    achievement_create,
    achievement_delete,
    achievement_update,
)
from achievements.services.rules import rules_event_types_seen
from core.languages import language_codes
from users.admin import UserAdmin


def _texts(cleaned_data: dict, field: str) -> dict[str, str]:
    return {
        code: cleaned_data.get(build_localized_fieldname(field, code)) or ""
        for code in language_codes()
    }


def _localized(field: str) -> list[str]:
    return [build_localized_fieldname(field, code) for code in language_codes()]


class DatalistTextInput(forms.TextInput):
    """A text input suggesting values (the event types seen so far) from a <datalist>."""

    def __init__(self, options, attrs=None):
        super().__init__(attrs)
        self.options = options

    def render(self, name, value, attrs=None, renderer=None):
        list_id = f"{name}-suggestions"
        html = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}">', ((o,) for o in self.options()))
        return format_html('{}<datalist id="{}">{}</datalist>', html, list_id, options)


class AchievementForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "rule_event" in self.fields:
            self.fields["rule_event"].widget = DatalistTextInput(rules_event_types_seen)

    def clean_goal(self):
        goal = self.cleaned_data["goal"]
        # The service refuses it too; saying so here shows the message on the form.
        if (
            self.instance.pk
            and goal != self.instance.goal
            and achievement_goal_frozen(self.instance)
        ):
            raise forms.ValidationError(
                _("The goal cannot change: users already have progress toward it or hold it.")
            )
        return goal


# A language's name in the operator's language ("Russian", «Русский»), looked up per request.
_language_name = lazy(lambda code: str(get_language_info(code)["name_translated"]), str)


@admin.register(Achievement)
class AchievementAdmin(TranslationAdmin):
    form = AchievementForm
    list_display = [
        "code",
        "points_display",
        "goal",
        "hidden",
        *_localized("name"),
        "holders",
        "created_at",
    ]
    list_filter = ["hidden"]
    search_fields = ["code", *_localized("name")]
    ordering = ["code"]
    # One fieldset per language, in place of tabs: modeltranslation's tabs load jQuery UI from
    # a CDN, and the admin must work offline.
    fieldsets = [
        (None, {"fields": ["code", "points", "goal", "hidden"]}),
        (
            _("Rule"),
            {
                "fields": ["rule_event", "rule_measure"],
                "description": _(
                    "Progress follows the user's measure of events of this type, capped at "
                    "the goal. Users already past the goal get the achievement when you save."
                ),
            },
        ),
        *[
            (
                _language_name(code),
                {
                    "fields": [
                        build_localized_fieldname("name", code),
                        build_localized_fieldname("description", code),
                    ]
                },
            )
            for code, _name in settings.LANGUAGES
        ],
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(holder_count=Count("awards"))

    @admin.display(description=_("holders"), ordering="holder_count")
    def holders(self, obj):
        return number_format(obj.holder_count, force_grouping=True)

    @admin.display(description=_("points"), ordering="points")
    def points_display(self, obj):
        return number_format(obj.points, force_grouping=True)

    def get_readonly_fields(self, request, obj=None):
        return ["code", "created_at"] if obj else []

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            form.base_fields["code"].required = False
            form.base_fields["code"].help_text = _("Leave empty to make one from the English name.")
        return form

    def save_model(self, request, obj, form, change):
        names, descriptions = (
            _texts(form.cleaned_data, "name"),
            _texts(form.cleaned_data, "description"),
        )
        rule = {"event": obj.rule_event, "measure": obj.rule_measure} if obj.rule_event else None
        if change:
            try:
                achievement_update(
                    achievement=obj,
                    points=obj.points,
                    goal=obj.goal,
                    hidden=obj.hidden,
                    rule=rule,
                    by=request.user,
                    names=names,
                    descriptions=descriptions,
                )
            except GoalFrozen as exc:  # progress began between the form's check and the save
                messages.error(request, str(exc))
        else:
            created = achievement_create(
                code=form.cleaned_data.get("code") or None,
                points=obj.points,
                goal=obj.goal,
                hidden=obj.hidden,
                rule=rule,
                by=request.user,
                names=names,
                descriptions=descriptions,
            )
            obj.pk, obj.code, obj.created_at = created.pk, created.code, created.created_at

    def delete_model(self, request, obj):
        achievement_delete(achievement=obj)

    def delete_queryset(self, request, queryset):
        for achievement in queryset:
            try:
                achievement_delete(achievement=achievement)
            except AchievementInUse as exc:
                messages.error(request, str(exc))


def _already_held(user, achievement: Achievement) -> str:
    return _now("%(player)s already held “%(achievement)s”; nothing changed.") % {
        "player": user,
        "achievement": achievement.name,
    }


def _award_to_users_message(achievement: Achievement, newly: int, already: int) -> str:
    """The bulk award's outcome, by the achievement's name, with each count's plural form."""
    awarded = ngettext(
        "Awarded “%(achievement)s” to %(count)d player",
        "Awarded “%(achievement)s” to %(count)d players",
        newly,
    ) % {"achievement": achievement.name, "count": newly}
    held = ngettext("%(count)d already held it.", "%(count)d already held it.", already) % {
        "count": already
    }
    return f"{awarded}; {held}"


class AwardForm(forms.ModelForm):
    class Meta:
        model = Award
        fields = ["user", "achievement", "awarded_at"]

    def clean_awarded_at(self):
        awarded_at = self.cleaned_data["awarded_at"]
        try:
            award_time_validate(awarded_at)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["awarded_at"]) from exc
        return awarded_at

    def validate_unique(self):
        # Uniqueness is not an error here: granting an award already held changes nothing,
        # which the admin reports as a message.
        pass


@admin.register(Award)
class AwardAdmin(admin.ModelAdmin):
    form = AwardForm
    list_display = ["user", "achievement", "awarded_at", "awarded_by"]
    list_filter = ["achievement", "awarded_at"]
    search_fields = ["user__username", "achievement__code"]
    date_hierarchy = "awarded_at"
    autocomplete_fields = ["user", "achievement"]
    list_select_related = ["user", "achievement", "awarded_by"]
    show_full_result_count = False
    actions = ["revoke_selected"]

    def get_readonly_fields(self, request, obj=None):
        # An award is granted or revoked, never edited in place.
        return ["user", "achievement", "awarded_at", "awarded_by"] if obj else ["awarded_by"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        if change:
            return
        award, created = award_grant(
            user=obj.user,
            achievement=obj.achievement,
            awarded_at=obj.awarded_at,
            by=request.user,
        )
        obj.pk = award.pk
        if not created:
            messages.warning(request, _already_held(obj.user, obj.achievement))

    def delete_model(self, request, obj):
        award_revoke(user=obj.user, achievement=obj.achievement, by=request.user)

    def delete_queryset(self, request, queryset):
        for award in queryset.select_related("user", "achievement"):
            award_revoke(user=award.user, achievement=award.achievement, by=request.user)

    @admin.action(description=_("Revoke the selected awards"), permissions=["delete"])
    def revoke_selected(self, request, queryset):
        """Asks for an optional reason, then revokes every selected award with it."""
        awards = list(queryset.select_related("user", "achievement"))
        if "apply" in request.POST:
            form = RevokeReasonForm(request.POST)
            if form.is_valid():
                for award in awards:
                    award_revoke(
                        user=award.user,
                        achievement=award.achievement,
                        by=request.user,
                        reason=form.cleaned_data["reason"] or None,
                    )
                self.message_user(
                    request,
                    ngettext("Revoked %(count)d award.", "Revoked %(count)d awards.", len(awards))
                    % {"count": len(awards)},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(request.get_full_path())
        else:
            form = RevokeReasonForm()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Revoke awards"),
            "form": form,
            "awards": awards,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/achievements/revoke_awards.html", context)


class RevokeReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=ACTIVITY_REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional; recorded in the activity feed and sent to webhooks."),
    )


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    """The feed, read-only: entries are written by the award services alone."""

    list_display = ["id", "type", "user", "achievement", "points", "at", "by", "reason"]
    list_filter = ["type"]
    search_fields = ["user", "achievement"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AwardFormSet(BaseInlineFormSet):
    """Saves a user's award rows through the award services, as the operator who sent them:
    a new row grants, a row ticked Delete revokes."""

    request = None  # bound per request by AwardInlineMixin.get_formset

    def save_new(self, form, commit=True):
        user, achievement = self.instance, form.cleaned_data["achievement"]
        award, created = award_grant(
            user=user,
            achievement=achievement,
            awarded_at=form.cleaned_data.get("awarded_at"),
            by=self.request.user,
        )
        if not created:
            messages.warning(self.request, _already_held(user, achievement))
        return award

    def save_existing(self, form, obj, commit=True):
        # An award is granted or revoked, never edited in place.
        return obj

    def add_fields(self, form, index):
        super().add_fields(form, index)
        # The Delete box of a row has no visible label of its own: say what ticking it does.
        if "DELETE" in form.fields and form.instance.pk:
            form.fields["DELETE"].widget.attrs["aria-label"] = _now("Revoke “%(achievement)s”") % {
                "achievement": form.instance.achievement.name
            }

    def delete_existing(self, obj, commit=True):
        award_revoke(user=self.instance, achievement=obj.achievement, by=self.request.user)


class AwardInlineMixin:
    formset = AwardFormSet

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"request": request})


class HeldAwardInline(AwardInlineMixin, admin.TabularInline):
    """The awards a user holds; ticking "delete" revokes one."""

    model = Award
    verbose_name = _("held award")
    verbose_name_plural = _("held awards (tick Delete to revoke)")
    fields = ["achievement", "awarded_at", "awarded_by"]
    readonly_fields = fields
    extra = 0
    ordering = ["-awarded_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("achievement", "awarded_by")


class NewAwardInline(AwardInlineMixin, admin.TabularInline):
    """Empty rows to award achievements to this user."""

    model = Award
    form = AwardForm
    verbose_name = _("new award")
    verbose_name_plural = _("award achievements")
    fields = ["achievement", "awarded_at"]
    autocomplete_fields = ["achievement"]
    extra = 1
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).none()


class ProgressInline(admin.TabularInline):
    """A user's steps toward achievements, read-only: progress changes through the API (or a
    grant, which sets it to the goal, and a revocation, which sets it to 0)."""

    model = Progress
    verbose_name = _("progress")
    verbose_name_plural = _("progress toward achievements")
    fields = ["achievement", "steps", "goal", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-updated_at"]

    @admin.display(description=_("goal"))
    def goal(self, obj):
        return obj.achievement.goal

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(steps__gt=0).select_related("achievement")


class AwardToUsersForm(forms.Form):
    achievement = forms.ModelChoiceField(
        queryset=Achievement.objects.order_by("code"), label=_("Achievement")
    )


@admin.action(description=_("Award an achievement to the selected players"))
def award_achievement_to_users(modeladmin, request, queryset):
    """The bulk-award action of the user admin: asks which achievement, then grants it to
    every selected user (those who hold it already keep their award)."""
    if not request.user.has_perm("achievements.add_award"):
        modeladmin.message_user(request, _now("You may not award achievements."), messages.ERROR)
        return None
    if "apply" in request.POST:
        form = AwardToUsersForm(request.POST)
        if form.is_valid():
            achievement = form.cleaned_data["achievement"]
            newly, already = award_grant_many(
                users=list(queryset), achievement=achievement, by=request.user
            )
            modeladmin.message_user(
                request,
                _award_to_users_message(achievement, newly, already),
                messages.SUCCESS,
            )
            return HttpResponseRedirect(request.get_full_path())
    else:
        form = AwardToUsersForm()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _now("Award an achievement"),
        "form": form,
        "users": queryset,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/achievements/award_to_users.html", context)


# The user admin belongs to users (below this app); the awards part of it belongs here.
UserAdmin.inlines = [*UserAdmin.inlines, HeldAwardInline, NewAwardInline, ProgressInline]
UserAdmin.actions = [*UserAdmin.actions, award_achievement_to_users]
