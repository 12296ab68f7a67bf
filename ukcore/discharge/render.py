"""The discharge summary for a person to read: an HTML page and a PDF (fpdf2), from the same
gathered content as the FHIR document."""

from __future__ import annotations

from datetime import datetime

from django.template.loader import render_to_string

from ukcore.discharge.content import Summary, when
from ukcore.discharge.document import TITLE
from ukcore.resources.patient import gp_practice
from virtualward.safety.pdf import markdown_to_pdf


def summary_html(summary: Summary, created_at: datetime) -> str:
    return render_to_string(
        "ukcore/discharge_summary.html",
        {"summary": summary, "title": TITLE, "created_at": when(created_at), "practice": gp_practice(summary.patient),
         "admitted": when(summary.admitted_at), "discharged": when(summary.discharged_at)},
    )  # fmt: skip


def summary_pdf(markdown: str, created_at: datetime) -> bytes:
    return markdown_to_pdf(markdown, title=TITLE, created_at=created_at)


def summary_markdown(summary: Summary, created_at: datetime) -> str:
    patient = summary.patient
    practice = gp_practice(patient)
    lines = [
        f"# {TITLE}",
        "",
        f"**{patient.name}**, NHS number {patient.nhs_number}, born {patient.date_of_birth:%d %b %Y}",
        "",
        f"{patient.ward.name}: on the virtual ward from {when(summary.admitted_at)} to {when(summary.discharged_at)}.",
        f"Registered GP practice: {practice['name'] or practice['ods']} (ODS {practice['ods']})." if practice else "",
        f"Written {when(created_at)}" + (f" by {_name(summary.author)}." if summary.author else "."),
    ]
    for section in summary.sections:
        lines += ["", f"## {section.title}", ""]
        lines += [f"- {line}" for line in section.lines]
    return "\n".join(lines) + "\n"


def _name(person: object) -> str:
    return person.get_full_name() or person.get_username()  # type: ignore[attr-defined]
