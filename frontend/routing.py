"""Websocket routes for the live screens (served by Channels, see virtualward/asgi.py)."""

from django.urls import path

from frontend import consumers

websocket_urlpatterns: list = [
    path("ws/ward/<int:ward_id>/", consumers.WardConsumer.as_asgi()),
    path("ws/wards/", consumers.AllWardsConsumer.as_asgi()),
    path("ws/alerts/", consumers.AlertQueueConsumer.as_asgi()),
    path("ws/patient/<int:patient_id>/", consumers.PatientConsumer.as_asgi()),
]
