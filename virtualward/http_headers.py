"""Response headers every dynamic reply carries.

Pages and API replies carry patients' names and NHS numbers; on a shared ward computer or
through a caching proxy a stored copy would outlive the session that was allowed to see it.
Every response that reaches this middleware is therefore ``Cache-Control: no-store, private``.
Static files never get here (WhiteNoise answers them first, with its own long caching).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response
