from django.apps import AppConfig


class RotaConfig(AppConfig):
    name = "rota"
    verbose_name = "On-call rota, escalation ladders and notifications"
    default_auto_field = "django.db.models.BigAutoField"
