from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from frontend.login_limits import SignInForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file, so the page needs no inline
    # script; its few lines of inline style are the one relaxation of the policy, on this page.
    path(
        "api/v1/docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api-docs",
    ),
    path("api/v1/", include("virtualward.api_urls")),
    path("fhir/R4/", include("ukcore.urls")),
    path("accounts/login/", LoginView.as_view(authentication_form=SignInForm), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("rota.urls")),
    path("", include("careplan.urls")),
    path("", include("checkins.urls")),
    path("", include("ukcore.page_urls")),
    path("", include("frontend.urls")),
    # Pages without an icon link (the admin's) make the browser ask for /favicon.ico.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}frontend/favicon.svg")),
]
