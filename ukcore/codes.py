"""Every code system, profile and code the platform's FHIR uses, each with where it comes from.

Sources, read from NHS England's UK Core (FHIR R4) in the NHSDigital/FHIR-R4-UKCORE-STAGING-MAIN
repository: ``structuredefinitions/`` (the profiles and their fixed values), ``valuesets/`` (the
SNOMED CT concepts each binding allows) and ``examples/UKCore-Bundle-NEWS2Observations-Example``
(the NEWS2 sub-score concepts with their displays). LOINC codes are the ones each UK Core
vital-signs profile fixes. Where no published code fits what the platform stores, the resource
carries text only (or a code of the platform's own system) and docs/fhir.md says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# --- code systems and identifier systems ------------------------------------------------------
SNOMED: Final = "http://snomed.info/sct"
LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
FLAG_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/flag-category"
ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
NHS_NUMBER: Final = "https://fhir.nhs.uk/Id/nhs-number"
ODS_CODE: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
RECORD_HEADINGS: Final = "https://fhir.hl7.org.uk/CodeSystem/UKCore-RecordStandardHeadings"
NHS_NUMBER_VERIFICATION_SYSTEM: Final = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
NHS_NUMBER_VERIFICATION_EXTENSION: Final = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
# The platform's own identifiers and codes (no national code fits; docs/fhir.md#codes).
PLATFORM: Final = "https://virtualward.example.nhs.uk/fhir"
DEVICE_SERIAL: Final = f"{PLATFORM}/Id/device-serial"
DEVICE_ID: Final = f"{PLATFORM}/Id/device-id"
PLATFORM_CODES: Final = f"{PLATFORM}/CodeSystem/virtual-ward"
WARD_ID: Final = f"{PLATFORM}/Id/ward"
STAY_ID: Final = f"{PLATFORM}/Id/stay"
DOCUMENT_ID: Final = f"{PLATFORM}/Id/discharge-summary"

# --- profiles (each StructureDefinition's url) ------------------------------------------------
_SD = "https://fhir.hl7.org.uk/StructureDefinition/"
PROFILE = {
    "Patient": _SD + "UKCore-Patient",
    "Organization": _SD + "UKCore-Organization",
    "Practitioner": _SD + "UKCore-Practitioner",
    "Device": _SD + "UKCore-Device",
    "Encounter": _SD + "UKCore-Encounter",
    "Flag": _SD + "UKCore-Flag",
    "Composition": _SD + "UKCore-Composition",
    "Bundle": _SD + "UKCore-Bundle",
    "Observation": _SD + "UKCore-Observation",
    "VitalSigns": _SD + "UKCore-Observation-VitalSigns",
    "RespirationRate": _SD + "UKCore-Observation-VitalSigns-RespirationRate",
    "OxygenSaturation": _SD + "UKCore-Observation-VitalSigns-OxygenSaturation",
    "BloodPressure": _SD + "UKCore-Observation-VitalSigns-BloodPressure",
    "HeartRate": _SD + "UKCore-Observation-VitalSigns-HeartRate",
    "BodyTemperature": _SD + "UKCore-Observation-VitalSigns-BodyTemperature",
    "BodyWeight": _SD + "UKCore-Observation-VitalSigns-BodyWeight",
    "ACVPU": _SD + "UKCore-Observation-ACVPU",
    "InspiredOxygen": _SD + "UKCore-Observation-InspiredOxygen",
    "EarlyWarningScore": _SD + "UKCore-Observation-EarlyWarningTotalScore",
}


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


def concept(*codes: Code, text: str | None = None) -> dict:
    value: dict = {"coding": [code.coding() for code in codes]}
    if text:
        value["text"] = text
    return value


VITAL_SIGNS_CATEGORY = Code(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")
SURVEY_CATEGORY = Code(OBSERVATION_CATEGORY, "survey", "Survey")  # fixed by the EWS profile
THERAPY_CATEGORY = Code(OBSERVATION_CATEGORY, "therapy", "Therapy")  # UK Core's oxygen-therapy example
ACTIVITY_CATEGORY = Code(OBSERVATION_CATEGORY, "activity", "Activity")

# --- vital signs: LOINC fixed by each profile, SNOMED CT from the profile's value set ---------
RESPIRATORY_RATE = (Code(SNOMED, "86290005", "Respiratory rate"), Code(LOINC, "9279-1", "Respiratory rate"))
# SpO2: 2708-6 is fixed by UKCore-Observation-VitalSigns-OxygenSaturation; 59408-5 says it was
# measured by pulse oximetry; 431314004 is the value set's "Peripheral oxygen saturation".
SPO2 = (
    Code(SNOMED, "431314004", "Peripheral oxygen saturation"),
    Code(LOINC, "2708-6", "Oxygen saturation in Arterial blood"),
    Code(LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
)
HEART_RATE = (Code(SNOMED, "364075005", "Heart rate"), Code(LOINC, "8867-4", "Heart rate"))
TEMPERATURE = (Code(SNOMED, "386725007", "Body temperature"), Code(LOINC, "8310-5", "Body temperature"))
WEIGHT = (Code(SNOMED, "27113001", "Body weight"), Code(LOINC, "29463-7", "Body weight"))
BLOOD_PRESSURE = (
    Code(SNOMED, "75367002", "Blood pressure"),
    Code(LOINC, "85354-9", "Blood pressure panel with all children optional"),
)
SYSTOLIC = (Code(SNOMED, "72313002", "Systolic arterial pressure"), Code(LOINC, "8480-6", "Systolic blood pressure"))
DIASTOLIC = (
    Code(SNOMED, "1091811000000102", "Diastolic arterial pressure"),
    Code(LOINC, "8462-4", "Diastolic blood pressure"),
)
# ACVPU: the concept fixed by UKCore-Observation-ACVPU, values from ValueSet-UKCore-ACVPU.
ACVPU = Code(SNOMED, "1104441000000107", "ACVPU (Alert Confusion Voice Pain Unresponsive) scale score")
ACVPU_VALUES = {
    "A": Code(SNOMED, "248234008", "Mentally alert"),
    "C": Code(SNOMED, "130987000", "Acute confusion"),
    "V": Code(SNOMED, "300202002", "Responds to voice"),
    "P": Code(SNOMED, "450847001", "Responds to pain"),
    "U": Code(SNOMED, "422768004", "Unresponsive"),
}
# Air or oxygen: ValueSet-UKCore-InspiredOxygen holds exactly these two concepts.
ROOM_AIR = Code(SNOMED, "722742002", "Breathing room air")
ON_OXYGEN = Code(SNOMED, "371825009", "Patient on oxygen")
# The flow rate: "patient on oxygen" with its rate (UK Core's oxygen-therapy example) and the
# LOINC concept for the rate itself.
O2_FLOW_RATE = (ON_OXYGEN, Code(LOINC, "3151-8", "Inhaled oxygen flow rate"))
# A fall: neither UK Core nor its value sets publish a concept for a sensor's fall event, so the
# platform's own code says what it is (docs/fhir.md#codes).
FALL = Code(PLATFORM_CODES, "fall-detected", "Fall detected by a home sensor")

# --- NEWS2 (UKCore-Observation-EarlyWarningTotalScore, ValueSet-UKCore-EarlyWarning*Score) ----
NEWS2_TOTAL = Code(
    SNOMED, "1104051000000101", "Royal College of Physicians NEWS2 (National Early Warning Score 2) total score"
)
SCORE_UNIT = "{ScoreOf}"  # fixed by the profile, for the total and every component
_NEWS2 = "Royal College of Physicians NEWS2 (National Early Warning Score 2) - "
NEWS2_SUB_SCORES = {
    "respiratory_rate": Code(SNOMED, "1104301000000104", _NEWS2 + "respiration rate score"),
    "spo2": Code(SNOMED, "1104311000000102", _NEWS2 + "oxygen saturation scale 1 score"),
    "spo2_scale_2": Code(SNOMED, "1104321000000108", _NEWS2 + "oxygen saturation scale 2 score"),
    "on_oxygen": Code(SNOMED, "1104331000000105", _NEWS2 + "air or oxygen score"),
    "systolic_bp": Code(SNOMED, "1104341000000101", _NEWS2 + "systolic blood pressure score"),
    "heart_rate": Code(SNOMED, "1104351000000103", _NEWS2 + "pulse score"),
    "consciousness": Code(SNOMED, "1104361000000100", _NEWS2 + "consciousness score"),
    "temperature": Code(SNOMED, "1104371000000107", _NEWS2 + "temperature score"),
}

# --- care: the stay, the flag, the document -----------------------------------------------------
HOME_HEALTH = Code(ACT_CODE, "HH", "home health")
VIRTUAL_WARD_FLAG = Code(PLATFORM_CODES, "on-virtual-ward", "Patient is on a virtual ward")
ADMIN_FLAG = Code(FLAG_CATEGORY, "admin", "Administrative")
DISCHARGE_SUMMARY = Code(SNOMED, "373942005", "Discharge summary")  # UK Core's discharge example


def heading(code: str, display: str) -> Code:
    return Code(RECORD_HEADINGS, code, display)


VERIFICATION_STATUS = {
    "01": "Number present and verified",
    "02": "Number present but not traced",
    "03": "Trace required",
    "04": "Trace attempted - No match or multiple match found",
    "05": "Trace needs to be resolved - (NHS number or patient detail conflict)",
    "06": "Trace in progress",
    "07": "Number not present and trace not required",
    "08": "Trace postponed (baby under six weeks old)",
}
