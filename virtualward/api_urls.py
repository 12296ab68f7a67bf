"""Version 1 of the REST API: every resource is registered here."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

urlpatterns = router.urls
