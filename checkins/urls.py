from django.urls import path

from checkins import views

app_name = "checkins"
urlpatterns = [
    # The patient's own pages: no log-in, the personal link is the key.
    path("checkin/<str:token>/", views.start, name="start"),
    path("checkin/<str:token>/q/<int:number>/", views.question, name="question"),
    path("checkin/<str:token>/done/", views.done, name="done"),
    path("checkin/<str:token>/plan/", views.plan, name="plan"),
    # Staff.
    path("patients/<int:patient_id>/checkin-link/", views.link_issue, name="link-issue"),
    path("patients/<int:patient_id>/checkin-link/<int:link_id>/revoke/", views.link_revoke, name="link-revoke"),
    path("patients/<int:patient_id>/checkins/phone/", views.record_by_phone, name="phone"),
]
