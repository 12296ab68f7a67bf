from django.apps import AppConfig


class HistoryConfig(AppConfig):
    """Years of readings: time partitions, their maintenance, retention and archives."""

    name = "history"
    verbose_name = "History and retention"
