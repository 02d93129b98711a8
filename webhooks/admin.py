"""Operators' view of webhook endpoints: their state, why one was disabled, the delivery log,
and actions to send a test event or rotate a secret. Changes go through webhooks.services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_tasks_db.models import DBTaskResult

from webhooks.addresses import url_resolve
from webhooks.models import EVENT_TYPES, URL_MAX_LENGTH, Delivery, Endpoint
from webhooks.services import (
    endpoint_create,
    endpoint_delete,
    endpoint_secret_rotate,
    endpoint_test_send,
    endpoint_update,
)

# The task rows are the queue's machinery; operators read the delivery log below instead (the
# package's admin is also in English only).
admin.site.unregister(DBTaskResult)


class DeliveryInline(admin.TabularInline):
    """The latest deliveries of an endpoint."""

    model = Delivery
    fields = [
        "message_id",
        "event_type",
        "status",
        "attempts",
        "last_response_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-id"]
    max_num = 0
    show_change_link = True

    def get_queryset(self, request):
        ids = super().get_queryset(request).order_by("-id").values_list("id", flat=True)[:50]
        return super().get_queryset(request).filter(id__in=list(ids))


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=URL_MAX_LENGTH, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event type."),
    )

    class Meta:
        model = Endpoint
        fields = ["owner", "url", "events", "active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            url_resolve(url)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["url"]) from exc
        return url


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["id", "url", "owner", "events", "active", "failing_since", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "owner__username"]
    readonly_fields = ["failing_since", "disabled_reason", "cursor", "created_at"]
    fields = ["owner", "url", "events", "active", *readonly_fields]
    inlines = [DeliveryInline]
    actions = ["send_test_event", "rotate_secret"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "owner"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            endpoint_update(endpoint=obj, url=obj.url, events=obj.events or [], active=obj.active)
            return
        created = endpoint_create(owner=obj.owner, url=obj.url, events=obj.events or [])
        obj.pk, obj.secret, obj.cursor = created.pk, created.secret, created.cursor
        messages.warning(
            request, _("Signing secret (shown only now): %(secret)s") % {"secret": created.secret}
        )

    def delete_model(self, request, obj):
        endpoint_delete(endpoint=obj)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            endpoint_delete(endpoint=endpoint)

    @admin.action(description=_("Send a test event"), permissions=["change"])
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            endpoint_test_send(endpoint=endpoint)
        self.message_user(
            request, _("Test event queued for %(count)s endpoint(s).") % {"count": len(queryset)}
        )

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            secret = endpoint_secret_rotate(endpoint=endpoint)
            self.message_user(
                request,
                _("New secret for %(url)s (shown only now): %(secret)s")
                % {"url": endpoint.url, "secret": secret},
                messages.WARNING,
            )


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log: read-only."""

    list_display = [
        "id",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "last_response_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event_type"]
    search_fields = ["message_id", "endpoint__url"]
    list_select_related = ["endpoint"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
