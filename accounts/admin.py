"""Admin for staff roles and the audit trail. The audit trail can be read, never changed."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.models import AuditEvent, StaffProfile
from frontend.events import sockets_access_changed
from patients.admin import ReadOnlyAdmin

User = get_user_model()


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False
    verbose_name_plural = "Staff role"


class StaffUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, StaffProfileInline]
    list_display = ["username", "first_name", "last_name", "email", "role", "is_active"]
    list_filter = [*UserAdmin.list_filter, "staff_profile__role"]
    list_select_related = ["staff_profile"]

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        super().save_related(request, form, formsets, change)
        if change:  # role, active flag or password may have changed: open sockets re-check
            sockets_access_changed(user_id=form.instance.pk)

    @admin.display(description="Role", ordering="staff_profile__role")
    def role(self, user: User) -> str:  # type: ignore[valid-type]
        profile = getattr(user, "staff_profile", None)
        return profile.get_role_display() if profile else "—"


admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    list_select_related = ["user"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        sockets_access_changed(user_id=obj.user_id)

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        super().delete_model(request, obj)
        sockets_access_changed(user_id=obj.user_id)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "patient", "object_type", "object_id", "route"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor__username", "action", "patient__nhs_number", "object_id", "route"]
    date_hierarchy = "at"
    list_select_related = ["actor", "patient"]
