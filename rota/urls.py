from django.urls import path

from rota import views

app_name = "rota"
urlpatterns = [
    path("rota/", views.rota_page, name="rota"),
    path("rota/shifts/", views.shift_add, name="shift-add"),
    path("rota/push/", views.push_subscribe, name="push-subscribe"),
    path("handover/", views.handover_page, name="handover"),
    path("handover/start/", views.handover_start, name="handover-start"),
    path("handover/<int:handover_id>/accept/", views.handover_accept, name="handover-accept"),
    path("notifications/", views.notifications_page, name="notifications"),
    path("ack/<str:token>/", views.acknowledge_from_link, name="acknowledge"),
]
