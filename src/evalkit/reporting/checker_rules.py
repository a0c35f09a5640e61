"""What the disclosure checker counts as a count and as an identifier, in any text.

The rules of :mod:`evalkit.reporting.checker`, kept apart from its file readers:

- **count names**: a column, key or table header names a count when it is one of evalkit's own
  count keys (``COUNT_KEYS``, ``n_*``) or any of its words names people or events (``people``,
  ``N``, ``total``, ``number``, ``women`` ...) and none names a statistic (``share``, ``rate``,
  ``mean``, ``per``, ``years``, ``cost`` ...): ``people`` and ``Number referred`` are counts,
  ``share_matched``, ``eligible_person_years`` and ``events_per_participant`` are not;
- **counts in text**: ``n = 3``, ``n=3``, ``N: 3``, ``3 women``, ``3 matched controls``,
  ``3 of 45`` (not ``Figure 3 of 5`` or ``3 of 5 analyses``);
- **a bad count**: anything but 0 that is at or below the threshold, not a multiple of the
  rounding base, or fractional;
- **identifiers**: the data's own person ids, 16-hex-digit pseudonym-shaped strings,
  NHS-number-shaped strings with a valid check digit, UK postcodes and date-of-birth fields.

Years, months, ages, days, percentages, money, CI bounds, scores and figure numbers are never
read as counts: a number is a count only beside a count word, after ``n =`` or in a column
named as a count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from evalkit.nhs_number import is_valid_nhs_number
from evalkit.reporting.disclosure import COUNT_KEYS, DisclosureRule

#: Words of a name that make it a count (a column ``people``, a header ``Number referred``).
COUNT_WORDS: frozenset[str] = frozenset(
    {
        "n",
        "count",
        "counts",
        "number",
        "num",
        "total",
        "totals",
        "frequency",
        "freq",
        "people",
        "persons",
        "individuals",
        "participants",
        "patients",
        "referrals",
        "referred",
        "controls",
        "starters",
        "started",
        "completers",
        "completed",
        "responders",
        "respondents",
        "women",
        "men",
        "females",
        "males",
        "girls",
        "boys",
        "children",
        "adults",
        "cases",
        "events",
        "admissions",
        "eligible",
        "matched",
        "unmatched",
        "improved",
        "deteriorated",
        "unchanged",
        "attendees",
        "residents",
        "carers",
        "deaths",
    }
)
#: Words of a name that make it a statistic, a label or a unit, never a count.
NOT_COUNT_WORDS: frozenset[str] = frozenset(
    {
        "share",
        "shares",
        "rate",
        "rates",
        "ratio",
        "ratios",
        "per",
        "mean",
        "means",
        "median",
        "average",
        "avg",
        "pct",
        "percent",
        "percentage",
        "proportion",
        "prop",
        "sd",
        "se",
        "std",
        "error",
        "ci",
        "low",
        "high",
        "lower",
        "upper",
        "years",
        "year",
        "days",
        "day",
        "months",
        "month",
        "weeks",
        "week",
        "age",
        "cost",
        "costs",
        "price",
        "score",
        "scores",
        "value",
        "change",
        "difference",
        "estimate",
        "weight",
        "weights",
        "smd",
        "min",
        "max",
        "date",
        "id",
        "rank",
        "label",
        "note",
        "saving",
        "sessions",
        "session",
        "quintile",
        "quintiles",
        "band",
        "level",
    }
)
#: Nouns that make the number before them a count of people or events.
PEOPLE_NOUNS = (
    "people|persons|individuals|participants|patients|referrals|controls|starters|completers"
    "|non-completers|responders|respondents|women|men|girls|boys|children|adults|residents"
    "|carers|attendees|cases|deaths|pupils|students|clients|users|families|households"
)
#: Words that may stand between a number and its noun ("3 matched controls").
_BETWEEN = (
    "more|fewer|other|new|matched|unmatched|eligible|older|younger|additional|further|distinct"
    "|female|male|adult|young|local"
)
#: A whole number (``3``, ``1,205``), not part of a decimal, a percentage, money or a word.
_WHOLE = r"(\d{1,3}(?:,\d{3})+|\d+)(?![\w%]|[.,]\d)"
_NUMBER = r"(?<![\w.,£$€#%/-])" + _WHOLE
_N_EQUALS = re.compile(r"(?<![\w.])[nN]\s*(?:=|:)\s*" + _WHOLE)
_NOUN_AFTER = re.compile(_NUMBER + rf"\s+(?:(?:{_BETWEEN})\s+)?(?:{PEOPLE_NOUNS})\b", re.I)
_OF = re.compile(_NUMBER + r"\s+(?:out\s+)?of\s+" + _NUMBER + r"((?:\s+[A-Za-z-]+){0,2})")
#: Words before "3 of 5" that make it a position, not a count (figure 3 of 5, step 2 of 4).
_POSITION = re.compile(
    r"(?:figure|fig\.?|table|page|step|section|week|month|day|session|part|chapter|appendix"
    r"|stage|item|round|wave|quarter|year|cell|column|row|line|panel|question|slide|no\.?"
    r"|number|version|model|analysis|outcome|run|replication|iteration|batch|score|scored"
    r"|scores|points|mark|marks|rated)\s*$",
    re.I,
)
#: Words among the two after "3 of 5" that make them counts of things other than people.
_NOT_PEOPLE_AFTER = frozenset(
    "analyses outcomes measures checks tests sessions months years weeks days sections figures "
    "tables settings instruments items questions providers programmes quintiles groups bands "
    "models specifications estimates criteria steps pages comparisons sites domains windows "
    "periods quarters cells columns rows files".split()
)

_PSEUDONYM = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{16}(?![0-9A-Za-z])")
_NHS_NUMBER = re.compile(r"(?<![0-9A-Za-z.])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![0-9A-Za-z]|\.[0-9])")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2}\b")
_DOB_NAME = re.compile(r"date[ _-]?of[ _-]?birth|\bdob\b|birth[ _-]?date", re.IGNORECASE)
_CELL_NUMBER = re.compile(r"^\s*(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(?:\(.*\))?\s*$")

COUNT_KIND = "small or unrounded count"


def is_count_key(name: str) -> bool:
    """Whether a name is one of evalkit's own count keys (``COUNT_KEYS``, ``n_*``)."""
    return name in COUNT_KEYS or name.startswith("n_")


def is_count_name(name: str) -> bool:
    """Whether a column, key or header names a count of people or events.

    Examples
    --------
    >>> [is_count_name(x) for x in ("people", "N", "Number referred", "n_participants")]
    [True, True, True, True]
    >>> [is_count_name(x) for x in ("share_matched", "eligible_person_years", "% of people")]
    [False, False, False]
    """
    if is_count_key(name):
        return True
    return bool(_words(name) & COUNT_WORDS) and not names_statistic(name)


def names_statistic(name: str) -> bool:
    """Whether a name says its values are statistics, labels or units (a share, a mean, years).

    Examples
    --------
    >>> [names_statistic(x) for x in ("share", "Mean age", "% of people", "2023", "")]
    [True, True, True, False, False]
    """
    return "%" in name or "£" in name or bool(_words(name) & NOT_COUNT_WORDS)


def _words(name: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", name.lower().replace("_", " ")))


def cell_number(text: str) -> float | None:
    """The number a table cell shows as a count (``3``, ``1,205``, ``3 (12%)``), else None.

    Examples
    --------
    >>> [cell_number(x) for x in ("3", "1,205", "3 (12%)", "*", "12%", "£40")]
    [3.0, 1205.0, 3.0, None, None, None]
    """
    m = _CELL_NUMBER.match(text)
    return float(m.group(1).replace(",", "")) if m else None


def bad_count(value: Any, rule: DisclosureRule) -> bool:
    """Whether a value in a count's place breaks the rule (0, None and ``*`` never do).

    Examples
    --------
    >>> r = DisclosureRule()
    >>> [bad_count(x, r) for x in (0, 3, 7, 10, 12, "15", "*", None, 2.5)]
    [False, True, True, False, True, False, False, False, True]
    """
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text in ("", "*", "null", "None", "nan", "NaN"):
            return False
        try:
            value = float(text)
        except ValueError:
            return False
    if not isinstance(value, int | float) or value != value:
        return False
    if value == 0:
        return False
    if value != int(value):
        return True  # a count is never fractional
    n = int(value)
    if 1 <= n <= rule.threshold:
        return True
    return bool(rule.rounding and n % rule.base != 0)


def count_phrases(text: str) -> Iterator[tuple[int, str, str]]:
    """Counts written in words: (offset, the phrase, the number), each number once.

    Examples
    --------
    >>> [m[1] for m in count_phrases("n = 3; 3 women; 3 of 45; Figure 3 of 5; aged 65 years")]
    ['n = 3', '3 women', '3 of 45', '3 of 45']
    """
    for m in _N_EQUALS.finditer(text):
        yield m.start(), m.group(), m.group(1)
    for m in _NOUN_AFTER.finditer(text):
        yield m.start(), m.group(), m.group(1)
    for m in _OF.finditer(text):
        before = text[max(0, m.start() - 24) : m.start()]
        after = set(m.group(3).lower().split())
        if _POSITION.search(before) or after & _NOT_PEOPLE_AFTER:
            continue
        yield m.start(), m.group(), m.group(1)
        yield m.start(), m.group(), m.group(2)


def masked(value: str) -> str:
    """An identifier as a finding shows it: its first three characters and its shape.

    The checker's findings go to the console and the log, so they must not copy an identifier
    there; the location (file, offset) finds it.

    Examples
    --------
    >>> masked("943 476 5919"), masked("SW1A 1AA")
    ('943 *** ****', 'SW1* ***')
    """
    return value[:3] + re.sub(r"[0-9A-Za-z]", "*", value[3:])


def identifier_findings(
    text: str, person_ids: frozenset[str], *, postcodes: bool = True
) -> Iterator[tuple[str, str, str]]:
    """Identifiers in text: (location, kind, masked value)."""
    for m in _PSEUDONYM.finditer(text):
        yield f"offset {m.start()}", "person-id-shaped string", masked(m.group())
    if person_ids:
        for token in sorted(set(re.findall(r"[0-9A-Za-z]{8,}", text)) & person_ids):
            yield f"offset {text.find(token)}", "person id from the data", masked(token)
    for m in _NHS_NUMBER.finditer(text):
        if is_valid_nhs_number("".join(m.groups())):
            yield f"offset {m.start()}", "NHS-number-shaped string", masked(m.group())
    if postcodes:
        for m in _POSTCODE.finditer(text):
            yield f"offset {m.start()}", "postcode-shaped string", masked(m.group())
    for m in _DOB_NAME.finditer(text):
        yield f"offset {m.start()}", "date of birth field", m.group()
