"""Recomputing patients' NEWS2 when new observations arrive: coalesced, on Celery, kept in full.

Ingest calls :func:`request_rescore` (or :func:`request_rescore_after_readings`) inside its batch
transaction. A request is *prompt* (the default) or *routine* (scoring.urgency decides which a
batch of readings needs); either is sent after commit, so a burst of readings costs one
recomputation per kind while its task waits. On Redis each kind has one waiting set and a
doorbell: the patients join the set, and only a ring that finds the doorbell silent sends a task
(:func:`rescore_waiting` in scoring.tasks), which takes everyone waiting of its kind (see "waiting
lists on Redis" below). On any other cache each patient is marked instead
(``vw:rescore:pending:<id>``, ``vw:rescore:routine:<id>``) and only patients not yet marked are
sent. Prompt tasks go to their own queue (VW_PROMPT_QUEUE) at once, so they never wait behind
routine work; routine tasks go to the default queue after VW_ROUTINE_RESCORE_SECONDS.

The kinds are independent: a routine task waiting never holds back a prompt one. A task clears
the marks and takes the waiting set *before* it reads observations. So whichever mark or place
a request finds, a task that has not yet read the observations exists and will see that
request's readings; and a reading committed after a task's read always finds its mark gone (or
the doorbell silent) and sends a fresh task: nothing is ever left unscored. A lost task leaves
the doorbell set (or the marks) for at most its countdown plus DOORBELL_GRACE_SECONDS; then the
next request of its kind sends again, and that task takes the patients left waiting too. Patients
a lost task had already taken, or that no later request comes for, are found by the safety-net
sweep (scoring.sweep), which sends their rescore whatever the doorbells say.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from frontend.events import publish
from patients.models import Patient
from scoring import news2
from scoring.freshness import CurrentVitals, Reading, current_vitals
from scoring.models import EarlyWarningScore
from scoring.selectors import newest_observation_rows, score_to_dict
from scoring.urgency import StoredReading, chart_value, needs_prompt_rescore
from ukcore.push import scores_scored

logger = logging.getLogger(__name__)

# A mark or doorbell outlives its task's countdown by at most this long, so a lost task holds
# back its kind's requests this long at most; then the next request sends again. Long enough for
# a healthy queue to start the task (the take silences the doorbell): a prompt task waits well
# under a second even at 1,000 msg/s. An expiry during a longer wait only sends one more task,
# which takes whoever is waiting then (no one, often): harmless, as rescoring is idempotent.
DOORBELL_GRACE_SECONDS = 10
# Patients scored in one transaction by a task (see rescore_patients).
RESCORE_CHUNK = 25


class FreshnessSettingError(ValueError):
    pass


def _pending_key(patient_id: int) -> str:
    return f"vw:rescore:pending:{patient_id}"


def _routine_key(patient_id: int) -> str:
    return f"vw:rescore:routine:{patient_id}"


def request_rescore(patient_ids: Iterable[int], *, routine: bool = False) -> None:
    """Ask for the patients' NEWS2 to be recomputed once the surrounding transaction commits.

    Prompt by default: sent at once to the prompt queue. ``routine=True`` is for readings that
    scoring.urgency says can wait: sent to the default queue after VW_ROUTINE_RESCORE_SECONDS.
    """
    ids = sorted({int(patient_id) for patient_id in patient_ids})
    if ids:
        transaction.on_commit(lambda: _send_rescore(ids, routine=routine))


def request_rescore_after_readings(
    readings_by_patient: Mapping[int, Sequence[StoredReading]],
    *,
    spo2_scales: Mapping[int, int],
    current_risks: Mapping[int, str | None],
    current_sub_scores: Mapping[int, Mapping[str, int | None]] | None = None,
) -> None:
    """Request each patient's rescore, prompt or routine as their new readings need.

    ``readings_by_patient`` holds each patient's new readings as stored on Observation
    (type, value, code); ``current_risks`` the risk of their current score and
    ``current_sub_scores`` what each parameter scores in it (scoring.urgency). A patient missing
    from ``spo2_scales`` or ``current_risks`` is rescored promptly: unknown is never "stable".
    """
    prompt, routine = [], []
    for patient_id, readings in readings_by_patient.items():
        scale = spo2_scales.get(patient_id)
        urgent = scale is None or needs_prompt_rescore(
            readings,
            spo2_scale=scale,
            current_risk=current_risks.get(patient_id),
            current_sub_scores=(current_sub_scores or {}).get(patient_id),
        )
        (prompt if urgent else routine).append(patient_id)
    request_rescore(prompt)
    request_rescore(routine, routine=True)


def _send_rescore(patient_ids: list[int], *, routine: bool = False) -> None:
    from scoring.tasks import rescore_patients

    kind = "routine" if routine else "prompt"
    if (client := _redis_client()) is not None:
        _ring(client, patient_ids, kind)
        return
    fresh = _mark_pending(patient_ids, routine=routine)
    if not fresh:
        return
    try:
        rescore_patients.apply_async(args=[fresh], **_send_options(kind))
    except Exception:
        # The readings are committed whatever happens here; clearing the marks means the
        # patient's next reading sends a task again instead of waiting for the marks to expire.
        key = _routine_key if routine else _pending_key
        cache.delete_many([key(pid) for pid in fresh])
        logger.exception("could not send the %s rescore of patients %s", kind, fresh)


def _send_options(kind: str) -> dict:
    if kind == "routine":
        # The default queue, behind the countdown: the readings cannot raise a low-risk
        # patient's score (scoring.urgency), and every reading in the meantime joins this task.
        return {"countdown": _countdown(settings.VW_ROUTINE_RESCORE_SECONDS)}
    # No countdown by default: the waiting list (or mark) already coalesces a burst while the
    # task waits in the queue, and every second of delay is a second on publish -> alert.
    return {"countdown": _countdown(settings.VW_RESCORE_DELAY_SECONDS), "queue": settings.VW_PROMPT_QUEUE}


def _mark_seconds(kind: str) -> int:
    """How long a doorbell or mark lasts: its task's countdown, then DOORBELL_GRACE_SECONDS."""
    delay = settings.VW_ROUTINE_RESCORE_SECONDS if kind == "routine" else settings.VW_RESCORE_DELAY_SECONDS
    return max(delay, 0) + DOORBELL_GRACE_SECONDS


# --- waiting lists on Redis: one per kind, each with a doorbell ---------------------------------
#
# Per-patient marks coalesce readings for one patient, but every ingest batch that touched a
# patient not yet marked still sent a task of its own: at 250 msg/s about twenty prompt tasks a
# second of one or two patients each, with an alert queued behind their fixed costs for half a
# second; at 1,000 msg/s routine tasks of one or two patients in waves, and a SET per patient in
# every batch. Instead, requests join their kind's waiting set and ring its doorbell; only the
# ring that finds the doorbell silent sends a task, and that task takes *everything* waiting.
# Under load a task carries more patients, not more tasks; a routine one, the whole ward's
# stable patients once per countdown.

_KEY_PREFIXES = {"prompt": "vw:rescore:", "routine": "vw:rescore:routine-"}


def _key(kind: str, name: str) -> str:
    if kind not in _KEY_PREFIXES:
        raise ValueError(f"unknown rescore kind {kind!r}: expected one of {', '.join(_KEY_PREFIXES)}")
    return cache.make_and_validate_key(_KEY_PREFIXES[kind] + name)


def _waiting_key(kind: str = "prompt") -> str:
    return _key(kind, "waiting")


def _doorbell_key(kind: str = "prompt") -> str:
    return _key(kind, "doorbell")


def _taking_key(task_id: str, kind: str = "prompt") -> str:
    return _key(kind, f"taking:{task_id}")


def _ring(client, patient_ids: list[int], kind: str) -> None:
    from scoring.tasks import rescore_waiting

    with client.pipeline(transaction=False) as pipe:
        pipe.sadd(_waiting_key(kind), *patient_ids)
        # A lost task leaves the doorbell ringing past its countdown for DOORBELL_GRACE_SECONDS
        # at most; then the next request sends again, and that task takes the patients left waiting.
        pipe.set(_doorbell_key(kind), 1, nx=True, ex=_mark_seconds(kind))
        _, rang = pipe.execute()
    if not rang:
        return  # a task is already on its way and will take these patients
    try:
        rescore_waiting.apply_async(kwargs={"kind": kind}, **_send_options(kind))
    except Exception:
        client.delete(_doorbell_key(kind))  # the patients stay waiting; the next request rings again
        logger.exception("could not send the %s rescore of patients %s", kind, patient_ids)


def take_waiting(task_id: str, kind: str = "prompt") -> list[int]:
    """Take every patient waiting for a rescore of this kind, and silence its doorbell, atomically.

    The patients are moved to a key named after the task, not dropped: if the task fails or its
    worker dies, Celery delivers it again with the same id and it takes them up again. A request
    that comes after this finds the doorbell silent and sends a new task, so nothing waits
    unseen; one that came before is taken here, after its readings were committed.
    """
    taking, waiting = _taking_key(task_id, kind), _waiting_key(kind)  # an unknown kind fails here
    client = _redis_client()
    if client is None:
        return []
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(_doorbell_key(kind))
        pipe.sunionstore(taking, [taking, waiting])
        pipe.delete(waiting)
        pipe.expire(taking, 24 * 3600)
        if kind == "routine":
            pipe.sadd(_routine_tasks_key(), task_id)  # so the sweep knows them routine (waiting_routinely)
        pipe.smembers(taking)
        *_, members = pipe.execute()
    return sorted(int(member) for member in members)


def finish_waiting(task_id: str, kind: str = "prompt") -> None:
    client = _redis_client()
    if client is not None:
        with client.pipeline(transaction=False) as pipe:
            pipe.delete(_taking_key(task_id, kind))
            if kind == "routine":
                pipe.srem(_routine_tasks_key(), task_id)
            pipe.execute()


def _routine_tasks_key() -> str:
    return _key("routine", "taking-tasks")


def waiting_routinely(patient_ids: Iterable[int]) -> set[int]:
    """Those of the patients waiting for a routine rescore, or in one being run: its waiting list
    and the lists its running tasks took, on Redis; its marks elsewhere.

    A task killed while running stays listed until its patients' key expires (a day), when it
    is dropped here: by then the sweep has long treated its patients as overdue anyway.
    """
    ids = {int(pid) for pid in patient_ids}
    if (client := _redis_client()) is None:
        marked = cache.get_many([_routine_key(pid) for pid in ids])
        return {pid for pid in ids if _routine_key(pid) in marked}
    tasks = sorted(member.decode() for member in client.smembers(_routine_tasks_key()))
    takings = [_taking_key(task_id, "routine") for task_id in tasks]
    with client.pipeline(transaction=False) as pipe:
        pipe.sunion([_waiting_key("routine"), *takings])
        for taking in takings:
            pipe.exists(taking)
        members, *alive = pipe.execute()
    if gone := [task_id for task_id, exists in zip(tasks, alive, strict=True) if not exists]:
        client.srem(_routine_tasks_key(), *gone)
    return ids & {int(member) for member in members}


def _countdown(seconds: int) -> int | None:
    return seconds if seconds > 0 else None


def _mark_pending(patient_ids: list[int], *, routine: bool = False) -> list[int]:
    """Mark each patient pending (of this kind) unless it already is; returns those newly marked.

    The per-patient coalescing of caches other than Redis (a fresh machine's local memory).
    """
    key = _routine_key if routine else _pending_key
    timeout = _mark_seconds("routine" if routine else "prompt")
    return [pid for pid in patient_ids if cache.add(key(pid), 1, timeout=timeout)]


def _redis_client():
    """The Redis client behind Django's Redis cache, or None for any other cache backend."""
    backend = caches[DEFAULT_CACHE_ALIAS]  # `cache` is a proxy: isinstance needs the backend
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(write=True)


def freshness_windows() -> dict[str, timedelta]:
    """Per-parameter freshness overrides from VW_FRESHNESS_MINUTES ("spo2=30,temperature=240")."""
    raw = settings.VW_FRESHNESS_MINUTES.strip()
    windows: dict[str, timedelta] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, _, minutes = item.partition("=")
        name = name.strip()
        if name not in news2.PARAMETERS or not minutes.strip().isdigit() or int(minutes) <= 0:
            raise FreshnessSettingError(
                f"VW_FRESHNESS_MINUTES item {item!r} must be <parameter>=<whole minutes above 0>, "
                f"with parameter one of {', '.join(news2.PARAMETERS)}"
            )
        windows[name] = timedelta(minutes=int(minutes))
    return windows


def newest_readings(patient_ids: Iterable[int]) -> dict[int, dict[str, Reading]]:
    """The newest reading of each NEWS2 parameter per patient (selectors.newest_observation_rows).

    A reading whose stored columns do not chart (urgency.chart_value) is left out: missing,
    never assumed normal.
    """
    newest: dict[int, dict[str, Reading]] = {}
    for obs_id, patient_id, parameter, value, code, measured_at, _ in newest_observation_rows(patient_ids):
        reading_value = chart_value(parameter, value, code)
        if reading_value is None:
            continue  # an unreadable row is missing, never assumed normal
        newest.setdefault(patient_id, {})[parameter] = Reading(parameter, reading_value, measured_at, obs_id)
    return newest


def rescore_patients(patient_ids: Iterable[int], *, now: datetime | None = None) -> list[EarlyWarningScore]:
    """Recompute each patient once; returns the scores that were new (inputs or band changed)."""
    ids = sorted({int(pid) for pid in patient_ids})
    # Both kinds' marks (caches other than Redis) cleared before reading, so a reading committed
    # from here on sends a new task whichever kind it asks for (module doc).
    cache.delete_many([key(pid) for pid in ids for key in (_pending_key, _routine_key)])
    now = now or timezone.now()
    freshness = freshness_windows()
    created = []
    # A chunk shares one transaction, one locking read and one readings query; chunks stay
    # small so the first patients' alerts are not held back by a long commit.
    for start in range(0, len(ids), RESCORE_CHUNK):
        with transaction.atomic():
            created.extend(_rescore_locked(ids[start : start + RESCORE_CHUNK], now, freshness))
    return created


def rescore_patient(patient_id: int, *, now: datetime) -> EarlyWarningScore | None:
    """Score the patient's current vitals; store, alert and publish only if something changed."""
    with transaction.atomic():
        created = _rescore_locked([patient_id], now, freshness_windows())
    return created[0] if created else None


def _rescore_locked(
    patient_ids: list[int], now: datetime, freshness: Mapping[str, timedelta]
) -> list[EarlyWarningScore]:
    # Locking the patients (in id order, so two workers cannot deadlock) serialises two workers
    # scoring the same patient: the second then sees the first's score as current, finds
    # nothing changed and raises nothing. FOR NO KEY UPDATE, so that ingest storing readings
    # for these patients (a KEY SHARE lock through the foreign key) never waits for scoring.
    locking = Patient.objects.select_for_update(no_key=True)
    patients = list(locking.filter(pk__in=patient_ids, discharged_at__isnull=True).order_by("pk"))
    newest = newest_readings([patient.pk for patient in patients])
    previous_scores = EarlyWarningScore.objects.in_bulk(
        [patient.current_score_id for patient in patients if patient.current_score_id is not None]
    )
    changed = []
    for patient in patients:
        readings = newest.get(patient.pk)
        if not readings:
            continue
        previous = previous_scores.get(patient.current_score_id)
        current = current_vitals(readings, now=now, spo2_scale=patient.spo2_scale, freshness=freshness)
        if previous is not None and _inputs_of(previous) == _inputs(current, patient.spo2_scale):
            continue
        changed.append((patient, previous, _new_score(patient, current, readings, now)))
    if not changed:
        return []
    # One INSERT for the chunk's scores (primary keys come back on PostgreSQL and SQLite)
    # and one UPDATE pointing each patient at its new score.
    created = EarlyWarningScore.objects.bulk_create([score for _, _, score in changed])
    _point_at_scores([(patient.pk, score.pk) for patient, _, score in changed])
    _announce(changed, now)
    scores_scored(score.pk for score in created)  # FHIR push to a shared care record, when configured
    return created


def _point_at_scores(pairs: list[tuple[int, int]]) -> None:
    if connection.vendor == "postgresql":
        # Written out: the ORM's CASE WHEN of one branch per patient cost a routine rescore of
        # a ward more to compile than the database took to run it.
        table, quote = Patient._meta.db_table, connection.ops.quote_name
        values = ", ".join(["(%s::bigint, %s::bigint)"] * len(pairs))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(table)} SET current_score_id = v.score FROM (VALUES {values}) AS v(pk, score) "  # noqa: S608 - model names only
                f"WHERE {quote(table)}.{quote(Patient._meta.pk.column)} = v.pk",
                [value for pair in pairs for value in pair],
            )
        return
    Patient.objects.filter(pk__in=[patient_id for patient_id, _ in pairs]).update(
        current_score_id=Case(*(When(pk=patient_id, then=Value(score_id)) for patient_id, score_id in pairs))
    )


def _announce(changed: list[tuple[Patient, EarlyWarningScore | None, EarlyWarningScore]], now: datetime) -> None:
    """Alert on the new scores and tell the dashboards, inside the scoring transaction.

    The alerts first, all the chunk's from one locking read of its live alerts: an alert is
    what a nurse waits for, and its event leaves the moment the chunk commits.
    """
    from alerts.services import evaluate_scores

    evaluate_scores([(patient, score, previous) for patient, previous, score in changed], now=now)
    for patient, _, score in changed:
        publish("score.updated", ward_id=patient.ward_id, patient_id=patient.pk, data=score_to_dict(score))


def _inputs(current: CurrentVitals, spo2_scale: int) -> tuple:
    used = tuple(sorted((name, reading.observation_id) for name, reading in current.used.items()))
    return spo2_scale, used, tuple(sorted(current.stale))


def _inputs_of(score: EarlyWarningScore) -> tuple:
    used = tuple(
        sorted(
            (name, sub["observation_id"])
            for name, sub in score.sub_scores.items()
            if sub.get("score") is not None and sub.get("observation_id") is not None
        )
    )
    return score.spo2_scale, used, tuple(sorted(score.stale))


def _new_score(
    patient: Patient, current: CurrentVitals, readings: Mapping[str, Reading], now: datetime
) -> EarlyWarningScore:
    """The score of the current vitals, not yet saved."""
    result = news2.score(current.vitals)
    considered = current.used.values() or readings.values()
    return EarlyWarningScore(
        patient=patient,
        computed_at=now,
        # With every reading stale the score describes the newest one we had, not "now".
        as_of=max(reading.measured_at for reading in considered),
        total=result.total,
        risk=str(result.risk),
        band=result.band,
        spo2_scale=result.spo2_scale,
        complete=result.complete,
        single_parameter_3=result.single_parameter_3,
        sub_scores=_sub_scores_json(result, current),
        missing=list(result.missing),
        stale=list(current.stale),
        clinical_response=result.clinical_response,
        monitoring_frequency=result.monitoring_frequency,
        monitoring_interval_s=int(result.monitoring_interval.total_seconds()),
    )


def _sub_scores_json(result: news2.News2Result, current: CurrentVitals) -> dict[str, dict]:
    subs = {}
    for name, sub in result.sub_scores.items():
        reading = current.used.get(name)
        subs[name] = {
            "value": sub.value,
            "score": sub.score,
            "observation_id": reading.observation_id if reading else None,
            "measured_at": reading.measured_at.isoformat() if reading else None,
            "note": sub.note,
        }
    return subs
