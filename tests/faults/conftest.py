"""Fixtures of the fault suite (``-m faults``); the rig itself is tests/faults/rig.py."""
