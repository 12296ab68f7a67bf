from django.urls import path

from careplan import views

app_name = "careplan"
urlpatterns = [
    path("patients/<int:patient_id>/agreed/", views.limit_set, name="limit-set"),
    path("patients/<int:patient_id>/agreed/<int:limit_id>/end/", views.limit_end, name="limit-end"),
    path("patients/<int:patient_id>/plan/", views.plan_edit, name="plan"),
]
