"""The clinical safety case (DCB0129) kept as data beside the code it describes.

``hazard_log`` loads and validates ``docs/clinical-safety/hazard-log.yaml``; ``matrix`` holds the
standard's risk matrix; ``evidence`` reads which named tests passed in a test run; ``render``
writes the Markdown pages and ``report`` a release's safety case report (Markdown and PDF);
``pytest_plugin`` makes every run of the whole suite prove that each control's tests still exist,
ran and were not skipped in CI. Nothing here imports Django.
"""
