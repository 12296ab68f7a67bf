from django.contrib import admin

from rota.models import EscalationStep, LadderRung, Notification, PushSubscription, Shift, StaffContact


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ("person", "role", "ward", "starts_at", "ends_at")
    list_filter = ("role", "ward")
    date_hierarchy = "starts_at"


@admin.register(EscalationStep)
class EscalationStepAdmin(admin.ModelAdmin):
    list_display = ("track", "after_seconds", "role", "ward", "channels")
    list_filter = ("track", "ward")


@admin.register(StaffContact)
class StaffContactAdmin(admin.ModelAdmin):
    list_display = ("person", "mobile")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "alert", "recipient", "channel", "state", "attempts")
    list_filter = ("channel", "state")
    readonly_fields = [field.name for field in Notification._meta.fields]


admin.site.register(PushSubscription)
admin.site.register(LadderRung)
