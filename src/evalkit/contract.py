"""The data contract as code: table names, columns, codes and quarantine reasons.

Mirrors ``docs/design/data-contract.md``. The synthetic county writes these tables and intake
validates them; both import this module so that the two can never disagree about a column name, a
code list or the name of a quarantine reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

#: Tables read from ``data/raw/``, in the order intake processes them (parents before children).
TABLES: Final[tuple[str, ...]] = ("population", "activity", "referrals", "measures")

#: Long-term conditions the synthetic county records (date of first diagnosis, nullable).
CONDITIONS: Final[tuple[str, ...]] = (
    "copd",
    "asthma",
    "chronic_pain",
    "anxiety",
    "depression",
    "diabetes",
    "chd",
    "smi",
)

#: Activity settings, in report order. ``prescription_item`` is optional.
SETTINGS: Final[tuple[str, ...]] = (
    "gp_appointment",
    "ae_attendance",
    "emergency_admission",
    "outpatient_attendance",
    "ooh_contact",
)
OPTIONAL_SETTINGS: Final[tuple[str, ...]] = ("prescription_item", "elective_admission")

SEXES: Final[tuple[str, ...]] = ("F", "M", "X")

#: NHS Data Dictionary ethnic category codes and the ONS five high-level groups they fall into.
ETHNICITY_GROUP: Final[dict[str, str]] = {
    "A": "White",
    "B": "White",
    "C": "White",
    "D": "Mixed",
    "E": "Mixed",
    "F": "Mixed",
    "G": "Mixed",
    "H": "Asian",
    "J": "Asian",
    "K": "Asian",
    "L": "Asian",
    "M": "Black",
    "N": "Black",
    "P": "Black",
    "R": "Other",
    "S": "Other",
    "Z": "Not stated",
    "99": "Not known",
}
ETHNICITY_CODES: Final[tuple[str, ...]] = tuple(ETHNICITY_GROUP)

REFERRAL_SOURCES: Final[tuple[str, ...]] = (
    "gp",
    "social_prescriber",
    "hospital_clinician",
    "camhs",
    "school",
    "self",
    "other",
)
DISCHARGE_REASONS: Final[tuple[str, ...]] = (
    "completed",
    "dropped_out",
    "did_not_start",
    "moved",
    "died",
    "ongoing",
    "other",
)
TIMEPOINTS: Final[tuple[str, ...]] = ("baseline", "end", "followup_3m", "followup_6m")

#: Columns of each table and their logical types. ``date`` columns are ISO dates.
COLUMNS: Final[dict[str, dict[str, str]]] = {
    "population": {
        "person_id": "string",
        "year_of_birth": "int",
        "sex": "string",
        "ethnicity": "string",
        "lsoa": "string",
        "imd_decile": "int",
        "district": "string",
        "pcn": "string",
        "registered_from": "date",
        "registered_to": "date",
        "date_of_death": "date",
        **{c: "date" for c in CONDITIONS},
    },
    "activity": {
        "event_id": "string",
        "person_id": "string",
        "event_date": "date",
        "setting": "string",
        "bed_days": "int",
    },
    "referrals": {
        "episode_id": "string",
        "person_id": "string",
        "programme": "string",
        "provider": "string",
        "referral_date": "date",
        "referral_source": "string",
        "start_date": "date",
        "end_date": "date",
        "sessions_offered": "int",
        "sessions_attended": "int",
        "discharge_reason": "string",
        "submitted_on": "date",
    },
    "measures": {
        "episode_id": "string",
        "instrument": "string",
        "timepoint": "string",
        "assessed_on": "date",
        "item": "string",
        "response": "int",
    },
}

#: Columns that may be empty. Condition columns are nullable; intake accepts a population table
#: carrying any subset of them (a real extract may record other conditions too).
NULLABLE: Final[dict[str, frozenset[str]]] = {
    "population": frozenset({"registered_to", "date_of_death", *CONDITIONS}),
    "activity": frozenset({"bed_days"}),
    "referrals": frozenset({"start_date", "end_date", "submitted_on"}),
    "measures": frozenset({"response"}),
}

#: Condition columns are optional in a raw extract; every other column is required.
OPTIONAL_COLUMNS: Final[dict[str, frozenset[str]]] = {
    "population": frozenset(CONDITIONS),
    "activity": frozenset({"bed_days"}),
    "referrals": frozenset({"submitted_on"}),
    "measures": frozenset(),
}

#: Primary key of each table (duplicates of it are quarantined, first occurrence kept).
PRIMARY_KEY: Final[dict[str, tuple[str, ...]]] = {
    "population": ("person_id",),
    "activity": ("event_id",),
    "referrals": ("episode_id",),
    "measures": ("episode_id", "instrument", "timepoint", "item"),
}

#: Default shape of a pseudonymised person id: a truncated keyed hash in lower-case hex, 32
#: characters as ``evalkit pseudonymise`` writes them (the data contract's token) or 16 as the
#: synthetic county writes them. A mapping file may set another pattern for a real extract.
PERSON_ID_PATTERN: Final[str] = r"^[0-9a-f]{16}(?:[0-9a-f]{16})?$"

#: Dates before this are impossible in any table (a placeholder such as 1900-01-01 is not a date).
EARLIEST_DATE: Final[dt.date] = dt.date(1900, 1, 2)
#: A ``submitted_on`` before this is impossible (no minimum dataset was submitted before 2000);
#: one before its referral date is a timeliness problem, counted in the provider report.
EARLIEST_SUBMISSION: Final[dt.date] = dt.date(2000, 1, 1)

# --- Quarantine reasons ---------------------------------------------------------------------
# Each rejected row gets exactly one reason: the first that applies in the order below.
MISSING_COLUMN = "missing_column"  # file-level: stops intake, never a row reason
MISSING_REQUIRED = "missing_required"  # a required field is empty
MALFORMED_PERSON_ID = "malformed_person_id"  # person_id does not match the id pattern
INVALID_TYPE = "invalid_type"  # a number field holds text, or a date that cannot be parsed
IMPOSSIBLE_DATE = "impossible_date"  # a date that cannot be a real date (2021-02-30, 1800, future)
INVALID_CODE = "invalid_code"  # a value outside its code list (sex, ethnicity, setting, ...)
OUT_OF_RANGE = "out_of_range"  # a number outside its range (imd_decile 11, negative sessions)
UNKNOWN_PROGRAMME = "unknown_programme"
UNKNOWN_INSTRUMENT = "unknown_instrument"
UNKNOWN_ITEM = "unknown_item"  # an item the instrument does not have
RESPONSE_OUT_OF_RANGE = "response_out_of_range"
DATES_OUT_OF_ORDER = "dates_out_of_order"  # registered_to < registered_from, referral > start ...
ATTENDED_EXCEEDS_OFFERED = "attended_exceeds_offered"
DUPLICATE_PERSON_ID = "duplicate_person_id"
DUPLICATE_EVENT_ID = "duplicate_event_id"
DUPLICATE_EPISODE = "duplicate_episode"
DUPLICATE_RESPONSE = "duplicate_response"
UNKNOWN_PERSON = "unknown_person"  # person_id well formed but not in population
UNKNOWN_EPISODE = "unknown_episode"  # episode_id not in referrals
EVENT_OUTSIDE_REGISTRATION = "event_outside_registration"
REGISTERED_BEFORE_BIRTH = "registered_before_birth"  # registered_from in a year before birth
REFERRAL_AFTER_DEATH = "referral_after_death_or_deregistration"
BORN_AFTER_REFERRAL = "born_after_referral"  # year_of_birth after the referral's year
ASSESSED_OUTSIDE_EPISODE = "assessed_outside_episode"  # far before referral or after the end
PARENT_QUARANTINED = "parent_quarantined"  # the row's person or episode was quarantined
#: referrals: one episode (person, programme, referral date) submitted with different data,
#: within or across providers; every row of it is quarantined (:mod:`evalkit.intake.episodes`).
CONFLICTING_SUBMISSIONS = "conflicting_submissions"
#: referrals: the named filter rule for an exact repeat of an episode (the earliest submission is
#: kept; the rest are counted, not quarantined).
DUPLICATE_SUBMISSION = "duplicate submission"

REASONS: Final[tuple[str, ...]] = (
    MISSING_REQUIRED,
    MALFORMED_PERSON_ID,
    INVALID_TYPE,
    IMPOSSIBLE_DATE,
    INVALID_CODE,
    OUT_OF_RANGE,
    UNKNOWN_PROGRAMME,
    UNKNOWN_INSTRUMENT,
    UNKNOWN_ITEM,
    RESPONSE_OUT_OF_RANGE,
    DATES_OUT_OF_ORDER,
    REGISTERED_BEFORE_BIRTH,
    ATTENDED_EXCEEDS_OFFERED,
    DUPLICATE_PERSON_ID,
    DUPLICATE_EVENT_ID,
    DUPLICATE_EPISODE,
    DUPLICATE_RESPONSE,
    PARENT_QUARANTINED,
    UNKNOWN_PERSON,
    UNKNOWN_EPISODE,
    EVENT_OUTSIDE_REGISTRATION,
    REFERRAL_AFTER_DEATH,
    BORN_AFTER_REFERRAL,
    ASSESSED_OUTSIDE_EPISODE,
    CONFLICTING_SUBMISSIONS,
)

#: A questionnaire may be dated up to this many days before its episode's referral...
ASSESSED_BEFORE_REFERRAL_DAYS: Final[int] = 90
#: ...and up to this many days after its episode's end (a 6-month follow-up is about 183).
ASSESSED_AFTER_END_DAYS: Final[int] = 365

#: Fault kinds the synthetic county can inject, with the reason intake must give each.
FAULT_REASONS: Final[dict[str, dict[str, str]]] = {
    "population": {
        "malformed_person_id": MALFORMED_PERSON_ID,
        "duplicate_person_id": DUPLICATE_PERSON_ID,
        "missing_required": MISSING_REQUIRED,
        "impossible_date": IMPOSSIBLE_DATE,
        "dates_out_of_order": DATES_OUT_OF_ORDER,
    },
    "activity": {
        "duplicate_event_id": DUPLICATE_EVENT_ID,
        "unknown_person": UNKNOWN_PERSON,
        "missing_required": MISSING_REQUIRED,
        "impossible_date": IMPOSSIBLE_DATE,
        "event_outside_registration": EVENT_OUTSIDE_REGISTRATION,
    },
    "referrals": {
        "conflicting_submissions": CONFLICTING_SUBMISSIONS,
        "unknown_person": UNKNOWN_PERSON,
        "missing_required": MISSING_REQUIRED,
        "dates_out_of_order": DATES_OUT_OF_ORDER,
        "attended_exceeds_offered": ATTENDED_EXCEEDS_OFFERED,
    },
    "measures": {
        "response_out_of_range": RESPONSE_OUT_OF_RANGE,
        "missing_required": MISSING_REQUIRED,
        "unknown_episode": UNKNOWN_EPISODE,
    },
}


def imd_quintile(imd_decile: Any) -> Any:
    """IMD quintile (1 = most deprived fifth) from the IMD decile: ``(decile + 1) // 2``.

    The one definition of the quintile; it works on anything with ``+`` and ``//``: an int, a
    numpy array, a pandas Series or an ibis expression (cast the result where a type matters).

    Examples
    --------
    >>> [imd_quintile(d) for d in (1, 2, 3, 10)]
    [1, 1, 2, 5]
    """
    return (imd_decile + 1) // 2
