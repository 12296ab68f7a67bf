"""/fhir/R4/: the CapabilityStatement, then read and search per resource type."""

from django.urls import path, re_path

from ukcore import api
from ukcore.handlers import READ, SEARCH

app_name = "fhir"

urlpatterns = [path("metadata", api.MetadataView.as_view(), name="metadata")]
for _kind in READ:
    if _kind in SEARCH:
        urlpatterns.append(path(_kind, api.search_view(_kind).as_view(), name=f"{_kind.lower()}-search"))
    urlpatterns.append(path(f"{_kind}/<str:resource_id>", api.read_view(_kind).as_view(), name=f"{_kind.lower()}-read"))
urlpatterns.append(re_path(r"^(?P<rest>.*)$", api.UnknownView.as_view(), name="unknown"))
