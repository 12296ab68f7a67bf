from django.apps import AppConfig


class CareplanConfig(AppConfig):
    name = "careplan"
    verbose_name = "Agreed parameters and self-escalation plans"
