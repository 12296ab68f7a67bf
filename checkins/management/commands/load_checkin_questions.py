"""Load (or reload after an edit) the check-in questions from their fixture."""

from django.core.management.base import BaseCommand

from checkins.questions import FIXTURE, load_questions


class Command(BaseCommand):
    help = "Load the daily check-in questions from fixtures/checkin_questions.json (or --path)."

    def add_arguments(self, parser):
        parser.add_argument("--path", default=str(FIXTURE))

    def handle(self, *args, path: str, **options):
        counts = load_questions(path=path)
        self.stdout.write(
            f"check-in questions: {counts['created']} created, {counts['updated']} updated, {counts['retired']} retired"
        )
