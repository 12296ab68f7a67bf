from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """Installed only so ``manage.py bench`` and ``manage.py bench_outage`` are found; it has no models."""

    name = "benchmarks"
    verbose_name = "Benchmarks"
