from django.apps import AppConfig


class FrontendConfig(AppConfig):
    name = "frontend"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from frontend import login_limits, socket_access  # noqa: F401  (connect their signal receivers)
