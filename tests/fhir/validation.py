"""Two independent checks of everything the platform serves as FHIR, neither written here.

* ``fhir.resources`` (R4B models, pydantic): types, cardinality, required elements, choice types.
* HL7's published FHIR R4 JSON schema (``fhir.schema.json``, version 4.0; vendored beside this
  file, gzipped, see LICENCE-fhir-schema.md): element names, value formats and patterns
  (ids, dates, instants, codes, URIs) as the specification defines them, through ``jsonschema``.

R4B changed no element of the resources served here (Patient, Observation, Encounter, Flag,
Device, Organization, Practitioner, Composition, Bundle, OperationOutcome, CapabilityStatement)
in a way R4 readers notice, which is why the R4 schema is the second, decisive check.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from fhir.resources.R4B import get_fhir_model_class

SCHEMA_FILE = Path(__file__).with_name("fhir.schema.json.gz")


@cache
def _schema() -> dict[str, Any]:
    with gzip.open(SCHEMA_FILE, "rt", encoding="utf-8") as handle:
        return json.load(handle)


@cache
def _validator(resource_type: str) -> jsonschema.protocols.Validator:
    root = _schema()
    schema = {"$schema": root["$schema"], "$ref": f"#/definitions/{resource_type}", "definitions": root["definitions"]}
    return jsonschema.Draft6Validator(schema, format_checker=jsonschema.Draft6Validator.FORMAT_CHECKER)


def schema_errors(resource: dict[str, Any]) -> list[str]:
    validator = _validator(resource["resourceType"])
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}" for error in validator.iter_errors(resource)
    ]


def assert_valid_fhir(resource: dict[str, Any]) -> None:
    """Fails with every problem either validator finds."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)  # raises pydantic.ValidationError with each problem
    errors = schema_errors(resource)
    assert errors == [], f"{resource['resourceType']}/{resource.get('id')} breaks the R4 JSON schema: {errors}"
