from django.apps import AppConfig


class UkCoreConfig(AppConfig):
    """FHIR R4 to NHS England's UK Core: the /fhir/R4/ endpoint, discharge summaries, pushes."""

    name = "ukcore"
    verbose_name = "FHIR (UK Core)"

    def ready(self) -> None:
        from patients.signals import patient_discharged
        from ukcore import receivers

        patient_discharged.connect(receivers.on_patient_discharged, dispatch_uid="ukcore.discharge_summary")
