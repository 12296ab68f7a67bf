"""Recorders for what services send after commit: live events and rescoring requests."""

from __future__ import annotations

import pytest

from accounts.models import Role
from tests.factories import PatientFactory, UserFactory, WardFactory


@pytest.fixture
def sent_events(monkeypatch):
    """Live events as they leave ``frontend.events`` after commit."""
    sent: list[dict] = []
    monkeypatch.setattr("frontend.events._send", sent.append)
    return sent


@pytest.fixture
def rescores(monkeypatch):
    """Patient ids passed to ``scoring.services.request_rescore`` by the services under test."""
    asked: list[list[int]] = []
    monkeypatch.setattr("patients.services.request_rescore", lambda ids: asked.append(list(ids)))
    return asked


@pytest.fixture
def ward():
    return WardFactory()


@pytest.fixture
def clinician(ward):
    user = UserFactory(role=Role.CLINICIAN)
    ward.staff.add(user)
    return user


@pytest.fixture
def patient(ward):
    return PatientFactory(ward=ward)
