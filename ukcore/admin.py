from django.contrib import admin, messages

from ukcore.models import DischargeSummary, ObservationPush
from ukcore.push import push_resend


@admin.register(DischargeSummary)
class DischargeSummaryAdmin(admin.ModelAdmin):
    list_display = ["patient", "created_at", "state", "attempts", "sent_at", "failed_at"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in DischargeSummary._meta.fields]


@admin.register(ObservationPush)
class ObservationPushAdmin(admin.ModelAdmin):
    list_display = ["created_at", "resource_count", "state", "attempts", "sent_at", "failed_at", "endpoint"]
    list_filter = ["state"]
    # The Bundle holds patients' readings: not shown here, where reads are not audited per patient.
    exclude = ["bundle"]
    readonly_fields = [f.name for f in ObservationPush._meta.fields if f.name != "bundle"]
    actions = ["send_again"]

    @admin.action(description="Send the failed pushes again")
    def send_again(self, request, queryset):
        sent = sum(push_resend(push_id=push.pk) for push in queryset)
        self.message_user(request, f"{sent} push(es) queued again.", messages.SUCCESS)
