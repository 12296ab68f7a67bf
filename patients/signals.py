"""Signals other apps listen to, sent only after the change has committed."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once a discharge has committed. Keyword arguments: ``patient`` (the discharged Patient)
# and ``user`` (who discharged them). Receivers run outside the discharge's transaction, so a
# receiver that fails cannot undo the discharge; each must record its own failure.
patient_discharged = Signal()
