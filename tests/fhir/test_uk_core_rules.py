"""Each UK Core rule the platform's FHIR follows, with the profile (or value set) it comes from.

Read from NHS England's UK Core R4 definitions (NHSDigital/FHIR-R4-UKCORE-STAGING-MAIN:
structuredefinitions/, valuesets/, codesystems/, examples/). One test per rule, run against the
resources the platform actually serves for a patient with one of every reading; the rule's text
is the test's id, so a failure names the rule broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from ukcore.discharge.content import gather
from ukcore.discharge.document import document_bundle
from ukcore.resources.care import encounter_resource, flag_resource
from ukcore.resources.observations import observation_resource, score_resource
from ukcore.resources.patient import patient_resource
from ukcore.selectors import blood_pressure_partners, reading_types

pytestmark = pytest.mark.django_db
SCT, LOINC, UCUM = "http://snomed.info/sct", "http://loinc.org", "http://unitsofmeasure.org"
SD = "https://fhir.hl7.org.uk/StructureDefinition/"


@dataclass(frozen=True)
class Rule:
    profile: str
    text: str
    check: Callable[[dict[str, Any]], None]


def codings(resource_or_concept: dict, system: str | None = None) -> set[str]:
    concept = resource_or_concept.get("code", resource_or_concept)
    return {c["code"] for c in concept.get("coding", []) if system is None or c["system"] == system}


def category(resource: dict) -> set[str]:
    return {c["code"] for cat in resource.get("category", []) for c in cat["coding"]}


def vital(r: dict, name: str, loinc: str, snomed: str, unit: str, profile: str) -> None:
    obs = r[name]
    assert obs["meta"]["profile"] == [SD + profile]
    assert loinc in codings(obs, LOINC) and snomed in codings(obs, SCT)
    assert "vital-signs" in category(obs)
    quantity = obs["valueQuantity"]
    assert (quantity["system"], quantity["code"]) == (UCUM, unit) and quantity["unit"]


def _verified_patient(r: dict) -> None:
    ext = r["verified_patient"]["identifier"][0]["extension"][0]
    assert ext["url"] == SD + "Extension-UKCore-NHSNumberVerificationStatus"
    coding = ext["valueCodeableConcept"]["coding"][0]
    assert coding["system"] == "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
    assert (coding["code"], coding["display"]) == ("01", "Number present and verified")


def _gp(r: dict) -> None:
    [gp] = r["verified_patient"]["generalPractitioner"]
    assert gp["reference"] == "Organization/ods-B82005"


def _bp_panel(r: dict) -> None:
    panel = r["systolic_bp"]
    assert "85354-9" in codings(panel, LOINC) and "75367002" in codings(panel, SCT)
    assert not any(key.startswith("value") for key in panel)
    systolic, diastolic = panel["component"]
    assert "8480-6" in codings(systolic["code"], LOINC) and "8462-4" in codings(diastolic["code"], LOINC)
    assert codings(systolic["code"], SCT) and codings(diastolic["code"], SCT)
    for component in (systolic, diastolic):
        assert (component["valueQuantity"]["system"], component["valueQuantity"]["code"]) == (UCUM, "mm[Hg]")


def _acvpu(r: dict) -> None:
    obs = r["consciousness"]
    assert obs["meta"]["profile"] == [SD + "UKCore-Observation-ACVPU"]
    assert codings(obs, SCT) == {"1104441000000107"}
    assert codings(obs["valueCodeableConcept"], SCT) <= {
        "248234008",
        "130987000",
        "300202002",
        "450847001",
        "422768004",
    }
    assert codings(obs["valueCodeableConcept"], SCT) == {"248234008"}  # A: mentally alert
    assert "component" not in obs


def _oxygen(r: dict) -> None:
    on, air, flow = r["on_oxygen"], r["room_air"], r["o2_flow_rate"]
    for obs in (on, air, flow):
        assert obs["meta"]["profile"] == [SD + "UKCore-Observation-InspiredOxygen"]
        assert not {"interpretation", "bodySite", "specimen"} & set(obs)
    assert codings(on, SCT) == {"371825009"} and codings(air, SCT) == {"722742002"}
    assert "3151-8" not in codings(on) | codings(air)  # the flow-rate code only on a flow rate
    assert "3151-8" in codings(flow, LOINC)
    assert (flow["valueQuantity"]["system"], flow["valueQuantity"]["code"]) == (UCUM, "L/min")


def _fall(r: dict) -> None:
    obs = r["fall_detected"]
    assert obs["code"]["coding"] and obs["code"]["text"]
    assert "vital-signs" not in category(obs) and obs["valueBoolean"] is True
    assert obs["meta"]["profile"] == [SD + "UKCore-Observation"]


def _news2(r: dict) -> None:
    score = r["news2"]
    assert score["meta"]["profile"] == [SD + "UKCore-Observation-EarlyWarningTotalScore"]
    assert category(score) == {"survey"} and codings(score, SCT) == {"1104051000000101"}
    assert (score["valueQuantity"]["system"], score["valueQuantity"]["code"]) == (UCUM, "{ScoreOf}")


SUB_SCORES = {"1104301000000104", "1104311000000102", "1104321000000108", "1104331000000105", "1104351000000103",
              "1104341000000101", "1104361000000100", "1104371000000107"}  # fmt: skip


def _news2_components(r: dict) -> None:
    components = r["news2"]["component"]
    assert len(components) == 7
    for component in components:
        assert codings(component["code"], SCT) <= SUB_SCORES and codings(component["code"], SCT)
        if "valueQuantity" in component:
            assert (component["valueQuantity"]["system"], component["valueQuantity"]["code"]) == (UCUM, "{ScoreOf}")
    total = sum(c["valueQuantity"]["value"] for c in components if "valueQuantity" in c)
    assert total == r["news2"]["valueQuantity"]["value"]


def _news2_scale_2(r: dict) -> None:
    assert "1104321000000108" in {code for c in r["news2_scale_2"]["component"] for code in codings(c["code"])}
    assert "1104311000000102" not in {code for c in r["news2_scale_2"]["component"] for code in codings(c["code"])}


def _news2_derived(r: dict) -> None:
    derived = {ref["reference"] for ref in r["news2"]["derivedFrom"]}
    assert f"Observation/bp-{r['ids']['systolic_bp']}" in derived
    assert f"Observation/{r['ids']['spo2']}" in derived and len(derived) == 7


def _news2_incomplete(r: dict) -> None:
    score = r["news2_incomplete"]
    absent = [c for c in score["component"] if "dataAbsentReason" in c]
    assert len(absent) == 6 and all("valueQuantity" not in c for c in absent)  # never a silent 0
    assert "Incomplete" in score["note"][0]["text"] and "lower bound" in score["note"][0]["text"]


def _status_subject_effective(r: dict) -> None:
    for name in ("consciousness", "on_oxygen", "o2_flow_rate", "news2", "spo2"):
        obs = r[name]
        assert obs["status"] == "final" and obs["subject"]["reference"].startswith("Patient/")
        assert obs["effectiveDateTime"]


def _flag(r: dict) -> None:
    assert r["flag_open"]["status"] == "active" and r["flag_closed"]["status"] == "inactive"
    assert r["flag_open"]["meta"]["profile"] == [SD + "UKCore-Flag"] and r["flag_open"]["subject"]
    assert "virtual ward" in r["flag_open"]["code"]["text"]


def _encounter(r: dict) -> None:
    assert r["encounter_open"]["status"] == "in-progress" and r["encounter_closed"]["status"] == "finished"
    assert "end" in r["encounter_closed"]["period"] and "end" not in r["encounter_open"]["period"]
    assert r["encounter_open"]["meta"]["profile"] == [SD + "UKCore-Encounter"]


HEADINGS = "https://fhir.hl7.org.uk/CodeSystem/UKCore-RecordStandardHeadings"


def _composition(r: dict) -> None:
    composition = r["document"]["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["meta"]["profile"] == [SD + "UKCore-Composition"]
    assert codings(composition["type"], SCT) == {"373942005"}
    for section in composition["section"]:
        assert section["code"]["coding"][0]["system"] == HEADINGS and section["text"]["div"]


def _document(r: dict) -> None:
    document = r["document"]
    assert document["type"] == "document" and document["identifier"]["system"] and document["timestamp"]
    assert document["meta"]["profile"] == [SD + "UKCore-Bundle"]


RULES = [
    Rule("UKCore-Patient", "the NHS number carries its verification status extension", _verified_patient),
    Rule("UKCore-Patient", "the GP practice is an Organization reference by ODS code", _gp),
    Rule("UKCore-Observation-VitalSigns-OxygenSaturation", "SpO2 is LOINC 2708-6, SNOMED CT, UCUM %",
         lambda r: vital(r, "spo2", "2708-6", "431314004", "%", "UKCore-Observation-VitalSigns-OxygenSaturation")),
    Rule("UKCore-Observation-VitalSigns-OxygenSaturation", "SpO2 also says pulse oximetry (LOINC 59408-5)",
         lambda r: None if "59408-5" in codings(r["spo2"], LOINC) else pytest.fail("no 59408-5")),
    Rule("UKCore-Observation-VitalSigns-RespirationRate", "respiration rate is 9279-1 and 86290005 in /min",
         lambda r: vital(r, "respiratory_rate", "9279-1", "86290005", "/min",
                         "UKCore-Observation-VitalSigns-RespirationRate")),
    Rule("UKCore-Observation-VitalSigns-HeartRate", "heart rate is 8867-4 and 364075005 in /min",
         lambda r: vital(r, "heart_rate", "8867-4", "364075005", "/min", "UKCore-Observation-VitalSigns-HeartRate")),
    Rule("UKCore-Observation-VitalSigns-BodyTemperature", "temperature is 8310-5 and 386725007 in Cel",
         lambda r: vital(r, "temperature", "8310-5", "386725007", "Cel",
                         "UKCore-Observation-VitalSigns-BodyTemperature")),
    Rule("UKCore-Observation-VitalSigns-BodyWeight", "weight is 29463-7 and 27113001 in kg",
         lambda r: vital(r, "weight", "29463-7", "27113001", "kg", "UKCore-Observation-VitalSigns-BodyWeight")),
    Rule("UKCore-Observation-VitalSigns-BloodPressure", "blood pressure is one 85354-9 panel with two components",
         _bp_panel),
    Rule("UKCore-Observation-ACVPU", "consciousness is SNOMED's ACVPU concept with a coded level", _acvpu),
    Rule("UKCore-Observation-InspiredOxygen", "air or oxygen and the flow rate each have their own code", _oxygen),
    Rule("UKCore-Observation", "a fall is a coded observation, not a vital sign", _fall),
    Rule("UKCore-Observation-EarlyWarningTotalScore", "NEWS2 is 1104051000000101, survey, {ScoreOf}", _news2),
    Rule("UKCore-Observation-EarlyWarningTotalScore", "each sub-score is a component from the sub-score value set",
         _news2_components),
    Rule("ValueSet-UKCore-EarlyWarningSubScore", "on Scale 2 the SpO2 sub-score is the Scale 2 concept",
         _news2_scale_2),
    Rule("UKCore-Observation-EarlyWarningTotalScore", "the score is derived from the readings it used",
         _news2_derived),
    Rule("UKCore-Observation-EarlyWarningTotalScore", "an incomplete score says so; missing is never 0",
         _news2_incomplete),
    Rule("UKCore-Observation-ACVPU/-InspiredOxygen/-EarlyWarningTotalScore", "status final, subject, effective",
         _status_subject_effective),
    Rule("UKCore-Flag", "the virtual-ward flag is active while the stay is open", _flag),
    Rule("UKCore-Encounter", "the stay is in progress, then finished with its end", _encounter),
    Rule("UKCore-Composition", "the summary is a 373942005 discharge summary with PRSB-coded sections", _composition),
    Rule("UKCore-Bundle", "the document Bundle has an identifier and a timestamp", _document),
]  # fmt: skip


@pytest.fixture
def served(ward, incomplete_score) -> dict[str, Any]:
    from scoring.services import rescore_patient

    r: dict[str, Any] = {"ids": {name: obs.pk for name, obs in ward.readings.items()}}
    partners = blood_pressure_partners(list(ward.readings.values()))
    for name, obs in ward.readings.items():
        r[name] = observation_resource(obs, partners.get(obs.pk))
    r["news2"] = score_resource(ward.score, reading_types([ward.score]))
    r["news2_incomplete"] = score_resource(incomplete_score, reading_types([incomplete_score]))
    patient = ward.patient
    patient.nhs_number_status, patient.gp_practice_code = "01", "B82005"
    patient.save(update_fields=["nhs_number_status", "gp_practice_code"])
    r["verified_patient"] = patient_resource(patient)
    stay = patient.stays.get()
    r["flag_open"], r["encounter_open"] = flag_resource(stay), encounter_resource(stay)
    patient.spo2_scale = 2
    patient.save(update_fields=["spo2_scale"])
    scale_2 = rescore_patient(patient.pk, now=timezone.now())
    r["news2_scale_2"] = score_resource(scale_2, reading_types([scale_2]))
    stay.discharged_at, stay.outcome = timezone.now(), "recovered"
    r["flag_closed"], r["encounter_closed"] = flag_resource(stay), encounter_resource(stay)
    import uuid

    r["document"] = document_bundle(gather(patient, ward.clinician, stay), uuid.uuid4(), timezone.now())
    return r


@pytest.mark.parametrize("rule", RULES, ids=[f"{rule.profile}: {rule.text}" for rule in RULES])
def test_uk_core_rule(served, rule):
    rule.check(served)
