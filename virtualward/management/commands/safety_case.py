"""Validate the hazard log, regenerate the clinical safety pages, and write a release's safety case report."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from virtualward.safety.evidence import TestRun, read_junit, read_results
from virtualward.safety.hazard_log import DEFAULT_PATH, ROOT, HazardLog, HazardLogError, load_hazard_log
from virtualward.safety.pdf import markdown_to_pdf
from virtualward.safety.pytest_plugin import DEFAULT_RESULTS
from virtualward.safety.render import generated_blocks, hazard_log_markdown, refresh_blocks, summary_lines
from virtualward.safety.report import evaluate, release_of, release_report_markdown, report_file_stem


class Command(BaseCommand):
    help = (
        "Validate docs/clinical-safety/hazard-log.yaml, regenerate the Markdown pages made from it, and write "
        "the release's safety case report (Markdown and PDF) from a test run."
    )

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--hazard-log", type=Path, default=DEFAULT_PATH, help="The hazard log (YAML).")
        parser.add_argument(
            "--docs", type=Path, help="The folder of the pages generated from it (default: the hazard log's folder)."
        )
        parser.add_argument(
            "--check", action="store_true", help="Only check that the log is valid and the pages are up to date."
        )
        parser.add_argument(
            "--pages-only", action="store_true", help="Only validate the log and regenerate the pages, no report."
        )
        evidence = parser.add_mutually_exclusive_group()
        evidence.add_argument(
            "--results", type=Path, help=f"The test-run file of a whole-suite run (default {DEFAULT_RESULTS})."
        )
        evidence.add_argument("--junit", type=Path, help="A JUnit XML report (pytest --junitxml) instead.")
        parser.add_argument(
            "--output", type=Path, default=ROOT / "var" / "safety-case", help="Where the report is written."
        )
        parser.add_argument(
            "--draft", action="store_true", help="Write a report marked DRAFT without failing when evidence is missing."
        )

    def handle(self, *args, hazard_log: Path, docs: Path | None, check: bool, pages_only: bool, **options) -> None:  # type: ignore[no-untyped-def]
        try:
            log = load_hazard_log(hazard_log)
        except HazardLogError as exc:
            raise CommandError(str(exc)) from exc
        docs = docs or hazard_log.parent
        stale = self._pages(log, docs, write=not check)
        if check:
            if stale:
                raise CommandError(
                    "out of date with the hazard log: "
                    + ", ".join(map(str, stale))
                    + " (regenerate them: python manage.py safety_case --pages-only)"
                )
            self.stdout.write(self.style.SUCCESS(f"{hazard_log}: valid; the pages in {docs} are up to date."))
            return
        if pages_only:
            self.stdout.write(self.style.SUCCESS(f"{hazard_log}: valid; the pages in {docs} are up to date."))
            return
        self._report(log, options["results"], options["junit"], options["output"], options["draft"])

    def _pages(self, log: HazardLog, docs: Path, *, write: bool) -> list[Path]:
        """The pages that differ from what the log gives; written unless ``write`` is false."""
        wanted = {docs / "hazard-log.md": hazard_log_markdown(log)}
        blocks = generated_blocks(log)
        for page in sorted(docs.glob("*.md")):
            if page not in wanted:
                text = page.read_text(encoding="utf-8")
                try:
                    wanted[page] = refresh_blocks(text, blocks)
                except ValueError as exc:
                    raise CommandError(f"{page}: {exc}") from exc
        stale = [page for page, text in wanted.items() if not page.is_file() or page.read_text("utf-8") != text]
        for page in stale if write else ():
            page.write_text(wanted[page], encoding="utf-8")
            self.stdout.write(f"updated {page}")
        return stale

    def _report(self, log: HazardLog, results: Path | None, junit: Path | None, output: Path, draft: bool) -> None:
        run = self._run(results, junit)
        release = release_of(log)
        evidence = evaluate(log, run, release)
        markdown = release_report_markdown(log, release, evidence)
        output.mkdir(parents=True, exist_ok=True)
        # Not Path.with_suffix: a version such as 0.1.0 would lose its last part to it.
        stem = output / report_file_stem(release)
        Path(f"{stem}.md").write_text(markdown, encoding="utf-8")
        title = f"Clinical safety case report, {release.product} {release.version}"
        Path(f"{stem}.pdf").write_bytes(markdown_to_pdf(markdown, title=title, created_at=release.generated_at))
        for line in summary_lines(log, evidence.outcomes):
            self.stdout.write(line)
        self.stdout.write(f"wrote {stem}.md and {stem}.pdf")
        if evidence.complete:
            self.stdout.write(self.style.SUCCESS("The evidence is complete: every named test passed in the run."))
            return
        problems = "\n".join(f"  - {problem}" for problem in evidence.problems[:20])
        message = f"the report is a DRAFT, its evidence is incomplete:\n{problems}"
        if not draft:
            raise CommandError(message + "\n(--draft writes it without failing)")
        self.stdout.write(self.style.WARNING(message))

    def _run(self, results: Path | None, junit: Path | None) -> TestRun | None:
        try:
            if junit is not None:
                return read_junit(junit, ROOT)
            path = results or ROOT / DEFAULT_RESULTS
            if results is None and not path.is_file():
                return None
            return read_results(path)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
