"""The synthetic county as NHS-shaped multi-file extracts (``evalkit synth --layout nhs``).

A pure transformation of the contract tables the generator writes: the same seed gives the same
people and events, with the contract's person tokens. Each mapping preset
(``intake_mappings/presets/``) names one extract's file, columns and date format; this module
writes that file from the contract rows, in NHS codes, and adds the rows a real extract holds
that the preset's mapping must filter out:

- ``GP_REGISTER.csv``: the population with gender codes 1 / 2 / 9 / 0, a date of birth (drawn
  within the year of birth, never after the first date the person has) for the year of birth;
- ``SUS_APC_SPELLS.csv``: emergency spells (admission methods 21-25, 2A, 2B, 2D) and elective
  spells (11-13, the negative-control setting) when the county has them; noise: maternity spells
  (31, 32) of women aged 18-45;
- ``ECDS_ATTENDANCES.csv``: arrival datetime, attendance category 1-3; noise: planned follow-ups
  (4);
- ``SUS_OP_APPOINTMENTS.csv``: attended 5 / 6; noise: cancelled (2, 4), did not attend (3) and
  late, not seen (7);
- ``GP_APPOINTMENTS.csv``: status Attended with a mode; noise: DNA;
- ``OOH_111_CONTACTS.csv``: contact datetime and service (111 or OOH);
- ``CHMDS_REFERRALS_<provider>.csv`` and ``CHMDS_MEASURES_<provider>.csv``: the creative health
  minimum dataset, one pair per provider.

Codes and noise rows are drawn from their own named stream (``nhs_layout`` of
:data:`~evalkit.synth.streams.STREAMS`, one sub-stream per file), so they never change the
contract-layout county. ``nhs_mapping.yaml`` (the presets composed, :mod:`evalkit.presets`) and
``nhs_layout.json`` (rows per file, noise rows per filtering rule) are written beside the files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from evalkit.contract import COLUMNS, CONDITIONS, TABLES
from evalkit.files import write_json, write_text
from evalkit.presets import (
    PRESETS_SUBDIR,
    compose_mapping,
    load_preset,
    mapping_yaml,
    provider_code,
)
from evalkit.synth.streams import spawn_streams, stream_rng
from evalkit.synth.tables import write_table

__all__ = [
    "LAYOUTS",
    "MANIFEST_FILE",
    "MAPPING_FILE",
    "NHS_PRESETS",
    "NhsExtract",
    "default_presets_dir",
    "nhs_file_names",
    "read_contract",
    "remove_nhs_layout",
    "write_nhs_layout",
]

LAYOUTS = ("contract", "nhs")
#: The presets an NHS-shaped county is written with, in mapping order.
NHS_PRESETS = (
    "gp_register",
    "sus_apc_spells",
    "ecds",
    "sus_outpatients",
    "gp_appointments",
    "ooh_111",
    "creative_health_mds",
)
MAPPING_FILE = "nhs_mapping.yaml"
MANIFEST_FILE = "nhs_layout.json"

#: Activity presets: the contract settings each file holds.
_ACTIVITY_SETTINGS: dict[str, tuple[str, ...]] = {
    "sus_apc_spells": ("emergency_admission", "elective_admission"),
    "ecds": ("ae_attendance",),
    "sus_outpatients": ("outpatient_attendance",),
    "gp_appointments": ("gp_appointment",),
    "ooh_111": ("ooh_contact",),
}
#: Code column of each activity file and the codes drawn for the contract's rows, per setting:
#: (codes, probabilities). Illustrative shares, not calibrated to any national figure.
_CODES: dict[str, tuple[str, dict[str, tuple[tuple[str, ...], tuple[float, ...]]]]] = {
    "sus_apc_spells": (
        "ADMISSION_METHOD",
        {
            "emergency_admission": (
                ("21", "22", "23", "24", "25", "2A", "2B", "2D"),
                (0.62, 0.10, 0.01, 0.03, 0.01, 0.04, 0.03, 0.16),
            ),
            "elective_admission": (("11", "12", "13"), (0.55, 0.30, 0.15)),
        },
    ),
    "ecds": ("EC_ATTENDANCE_CATEGORY", {"ae_attendance": (("1", "2", "3"), (0.9, 0.07, 0.03))}),
    "sus_outpatients": ("ATTENDED", {"outpatient_attendance": (("5", "6"), (0.93, 0.07))}),
    "gp_appointments": ("APPT_STATUS", {"gp_appointment": (("Attended",), (1.0,))}),
    "ooh_111": ("SERVICE", {"ooh_contact": (("111", "OOH"), (0.7, 0.3))}),
}
#: Noise rows per file: (share of the file's contract rows, codes, probabilities). A noise row's
#: code is never one the preset keeps, so the mapping filters every one by "keep <column>".
_NOISE: dict[str, tuple[float, tuple[str, ...], tuple[float, ...]]] = {
    "sus_apc_spells": (0.08, ("31", "32"), (0.45, 0.55)),  # maternity spells
    "ecds": (0.03, ("4",), (1.0,)),  # planned follow-ups
    "sus_outpatients": (0.15, ("2", "3", "4", "7"), (0.35, 0.35, 0.27, 0.03)),
    "gp_appointments": (0.05, ("DNA",), (1.0,)),
}
_GP_MODES = (
    ("Face-to-Face", "Telephone", "Video Conference/Online", "Home Visit", "Unknown"),
    (0.62, 0.32, 0.02, 0.02, 0.02),
)
#: Time written after the date of a preset's ``datetimes`` column (intake drops it).
#: Person columns of the presets' files (the warehouse's pseudonymised id, the minimum dataset's).
_PERSON_COLUMNS = ("PSEUDO_NHS_NUMBER", "NHS_NUMBER")
_TIME_FORMAT = {"ecds": " %H:%M:%S", "ooh_111": " %H:%M"}
_NOISE_PREFIX = {
    "sus_apc_spells": "NA",
    "ecds": "NE",
    "sus_outpatients": "NO",
    "gp_appointments": "NG",
}
#: Sub-stream of ``nhs_layout`` per file (fixed, so adding a file never moves another's draws).
_SUBSTREAM = {name: i for i, name in enumerate(NHS_PRESETS)}
#: "No date" among day numbers (days before 1970 are negative, so not -1).
_NO_DATE = int(np.iinfo(np.int32).min)


@dataclass(frozen=True)
class NhsExtract:
    """What :func:`write_nhs_layout` wrote: rows per file and the noise rows per filtering rule."""

    out: Path
    rows: dict[str, int]
    noise: dict[str, dict[str, int]]
    mapping: Path
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Readable list of the files, their rows and the noise rows the mapping filters."""
        lines = [f"NHS-shaped extract in {self.out} (mapping {self.mapping.name}):"]
        width = max(map(len, self.rows), default=0)
        for f, n in self.rows.items():
            noise = sum(self.noise.get(f, {}).values())
            extra = f" ({noise:,} for the mapping to filter)" if noise else ""
            lines.append(f"  {f:<{width}} {n:>11,} rows{extra}")
        return "\n".join(lines + self.notes)


# ---- reading the contract tables -----------------------------------------------------------
def read_contract(folder: Path) -> dict[str, pa.Table]:
    """The four contract tables of ``folder`` (CSV or Parquet), every column as text.

    Dates become ISO text and integers their digits, exactly as a CSV county holds them, so the
    transformation is the same whichever format the county was written in.
    """
    out = {}
    for t in TABLES:
        csv, parquet = Path(folder) / f"{t}.csv", Path(folder) / f"{t}.parquet"
        if parquet.exists():
            table = pq.read_table(parquet)
            table = pa.table({c: table[c].cast(pa.string()) for c in table.column_names})
        elif csv.exists():
            table = pacsv.read_csv(
                csv,
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in COLUMNS[t]},
                    strings_can_be_null=True,
                ),
            )
        else:
            raise FileNotFoundError(f"{folder}: no {t}.csv or {t}.parquet to write as NHS extracts")
        out[t] = table.combine_chunks()
    return out


# ---- small helpers -------------------------------------------------------------------------
def _days(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """ISO date text as day numbers since 1970 (int64); null becomes :data:`_NO_DATE`."""
    d = pc.cast(col, pa.date32()).cast(pa.int32())
    return np.asarray(d.fill_null(_NO_DATE), dtype=np.int64)


def _date_text(days: np.ndarray, fmt: str, seconds: np.ndarray | None = None) -> pa.Array:
    """Day numbers (:data:`_NO_DATE` = none) as text in ``fmt``; ``seconds`` adds a time."""
    days = np.asarray(days, dtype=np.int64)
    mask = days == _NO_DATE
    secs = np.where(mask, 0, days) * 86_400 + (0 if seconds is None else seconds)
    ts = pa.array(secs.astype(np.int64), pa.int64(), mask=mask).cast(pa.timestamp("s"))
    return pc.strftime(ts, format=fmt)


def _draw(rng: np.random.Generator, n: int, codes: tuple[str, ...], p: tuple[float, ...]):
    """``n`` codes drawn with probabilities ``p``."""
    return np.asarray(codes, dtype=object)[rng.choice(len(codes), size=n, p=np.asarray(p))]


def _text(values: np.ndarray | list) -> pa.Array:
    return pa.array(values, pa.string())


def _source(preset: dict, table: str) -> dict[str, Any]:
    """A single-file preset's one source entry for ``table``."""
    return preset["tables"][table]["sources"][0]


def _named(src: dict[str, Any]) -> dict[str, str]:
    """Contract column -> the preset's source column."""
    return {contract: source for source, contract in src.get("columns", {}).items()}


def _seconds_of_day(rng: np.random.Generator, n: int, fmt: str) -> np.ndarray | None:
    """Times of day for a datetime format (whole minutes if it has no seconds), else None."""
    if "%H" not in fmt:
        return None
    step = 1 if "%S" in fmt else 60
    return rng.integers(0, 86_400 // step, size=n) * step


# ---- the population: GP register -----------------------------------------------------------
def _gp_register(pop: pa.Table, preset: dict, rng: np.random.Generator) -> pa.Table:
    """The population in the GP register's columns: gender codes and a date of birth."""
    src = _source(preset, "population")
    fmt, names = src["date_format"], _named(src)
    yob = np.asarray(pc.cast(pop["year_of_birth"], pa.int64()))
    first = (yob - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    last = (yob - 1969).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64) - 1
    # Never born after the first date the person has (registration, diagnosis, death).
    for c in ("registered_from", "date_of_death", *CONDITIONS):
        if c in pop.column_names:
            d = _days(pop[c])
            last = np.where((d != _NO_DATE) & (d < last), d, last)
    last = np.maximum(last, first)
    dob = first + np.floor(rng.random(pop.num_rows) * (last - first + 1)).astype(np.int64)
    sex = np.asarray(pop["sex"].to_pylist(), dtype=object)
    unknown = np.where(rng.random(pop.num_rows) < 0.5, "9", "0")  # both mean "not known"
    gender = np.where(sex == "M", "1", np.where(sex == "F", "2", unknown))
    cols: dict[str, pa.Array] = {}
    for c in COLUMNS["population"]:
        if c == "year_of_birth" or c not in pop.column_names:
            continue
        if c == "sex":
            cols[names[c]] = _text(gender)
        elif COLUMNS["population"][c] == "date":
            cols[names[c]] = _date_text(_days(pop[c]), fmt)
        else:
            cols[names[c]] = pop[c].combine_chunks()
        if c == "person_id":
            cols[src["date_of_birth"]["column"]] = _date_text(dob, src["date_of_birth"]["format"])
    return pa.table(cols)


# ---- activity files --------------------------------------------------------------------------
def _activity_rows(act: pa.Table, settings: tuple[str, ...]) -> pa.Table:
    mask = pc.is_in(act["setting"], value_set=pa.array(list(settings), pa.string()))
    return act.filter(mask)


def _maternity_noise(
    rng: np.random.Generator, n: int, pop: pa.Table, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` spells of women registered on the day and aged 18-45 then: person rows, days."""
    yob = np.asarray(pc.cast(pop["year_of_birth"], pa.int64()))
    women = np.flatnonzero(np.asarray(pop["sex"].to_pylist(), dtype=object) == "F")
    start = _days(pop["registered_from"])
    end = np.minimum(
        np.where((d := _days(pop["registered_to"])) != _NO_DATE, d, hi),
        np.where((x := _days(pop["date_of_death"])) != _NO_DATE, x, hi),
    )
    persons, days = [], []
    while len(persons) < n and women.size:
        k = 4 * (n - len(persons)) + 10
        p = women[rng.integers(0, women.size, size=k)]
        day = rng.integers(lo, hi + 1, size=k)
        age = 1970 + day / 365.25 - yob[p]
        ok = (age >= 18) & (age <= 45) & (day >= start[p]) & (day <= end[p])
        persons += p[ok].tolist()
        days += day[ok].tolist()
    return np.asarray(persons[:n], dtype=np.int64), np.asarray(days[:n], dtype=np.int64)


def _activity_file(
    name: str, act: pa.Table, pop: pa.Table, preset: dict, rng: np.random.Generator
) -> tuple[pa.Table, dict[str, int]]:
    """One activity file: the contract rows of its settings in NHS codes, plus its noise rows."""
    src = _source(preset, "activity")
    fmt, names = src["date_format"], _named(src)
    if names["event_date"] in src.get("datetimes", []):
        fmt += _TIME_FORMAT[name]
    rows = _activity_rows(act, _ACTIVITY_SETTINGS[name])
    n = rows.num_rows
    code_col, per_setting = _CODES[name]
    setting = np.asarray(rows["setting"].to_numpy(zero_copy_only=False), dtype=object)
    codes = np.empty(n, dtype=object)
    for s, (values, p) in per_setting.items():
        here = setting == s
        codes[here] = _draw(rng, int(here.sum()), values, p)
    ids = rows["event_id"].to_numpy(zero_copy_only=False).astype(object)
    person = rows["person_id"].to_numpy(zero_copy_only=False).astype(object)
    day = _days(rows["event_date"])
    beds = pc.fill_null(rows["bed_days"], "").to_numpy(zero_copy_only=False).astype(object)
    noise: dict[str, int] = {}
    if name in _NOISE and n:
        share, values, p = _NOISE[name]
        k = int(rng.binomial(n, share))
        lo, hi = int(day.min()), int(day.max())
        if name == "sus_apc_spells":
            rows_p, n_day = _maternity_noise(rng, k, pop, lo, hi)
            n_person = np.asarray(pop["person_id"].take(pa.array(rows_p)).to_pylist(), dtype=object)
        else:  # another contact of someone in the file, within a month of one of theirs
            pick = rng.integers(0, n, size=k)
            n_person = person[pick]
            n_day = np.clip(day[pick] + rng.integers(-30, 31, size=k), lo, hi)
        k = n_day.size
        n_ids = np.array([f"{_NOISE_PREFIX[name]}{i:09d}" for i in range(1, k + 1)], dtype=object)
        n_beds = rng.integers(0, 4, size=k).astype(str).astype(object)
        ids, person = np.concatenate([ids, n_ids]), np.concatenate([person, n_person])
        day, beds = np.concatenate([day, n_day]), np.concatenate([beds, n_beds])
        codes = np.concatenate([codes, _draw(rng, k, values, p)])
        noise[f"keep {code_col}"] = k
    order = np.lexsort((ids, day))
    cols: dict[str, pa.Array] = {
        names["event_id"]: _text(ids[order]),
        names["person_id"]: _text(person[order]),
        names["event_date"]: _date_text(day[order], fmt, _seconds_of_day(rng, day.size, fmt)),
        code_col: _text(codes[order]),
    }
    if "bed_days" in names:
        b = beds[order]
        cols[names["bed_days"]] = pa.array(b, pa.string(), mask=b == "")
    if name == "gp_appointments":
        cols["APPT_MODE"] = _text(_draw(rng, day.size, *_GP_MODES))
    return pa.table(cols), noise


# ---- the creative health minimum dataset ----------------------------------------------------
def _mds_files(referrals: pa.Table, measures: pa.Table, preset: dict) -> dict[str, pa.Table]:
    """Each provider's referrals and measures files (the provider is the file, not a column)."""
    out: dict[str, pa.Table] = {}
    providers = sorted(set(referrals["provider"].to_pylist()))
    ep_provider = dict(
        zip(referrals["episode_id"].to_pylist(), referrals["provider"].to_pylist(), strict=True)
    )
    meas_provider = pa.array([ep_provider.get(e) for e in measures["episode_id"].to_pylist()])
    for table, rows, owner in (
        ("referrals", referrals, referrals["provider"]),
        ("measures", measures, meas_provider),
    ):
        src = _source(preset, table)
        names, fmt = _named(src), src["date_format"]
        for prov in providers:
            part = rows.filter(pc.equal(owner, prov))
            cols = {}
            for c, kind in COLUMNS[table].items():
                if c not in names or c not in part.column_names:
                    continue  # not in the preset, or an optional column the county lacks
                cols[names[c]] = (
                    _date_text(_days(part[c]), fmt) if kind == "date" else part[c].combine_chunks()
                )
            code = provider_code(prov)
            out[src["file"].replace("{provider_code}", code)] = pa.table(cols)
    return out


# ---- writing ---------------------------------------------------------------------------------
def nhs_file_names(out: Path) -> list[Path]:
    """Files of a previous NHS-shaped county in ``out`` (from its manifest), with the manifest."""
    manifest = Path(out) / MANIFEST_FILE
    if not manifest.exists():
        return []
    names = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    return [Path(out) / f for f in names] + [Path(out) / MAPPING_FILE, manifest]


def remove_nhs_layout(out: Path) -> None:
    """Remove a previous NHS-shaped county's files from ``out`` (nothing else)."""
    for p in nhs_file_names(out):
        if p.exists():
            p.unlink()


def _replace_person_ids(table: pa.Table, column: str, values: Mapping[str, str]) -> pa.Table:
    """The seam for ``--nhs-numbers``: write ``values[token]`` in place of each person token."""
    keys = pa.array(list(values), pa.string())
    idx = pc.index_in(table[column], value_set=keys)
    new = pa.array(list(values.values()), pa.string()).take(idx)
    return table.set_column(table.column_names.index(column), column, new)


def write_nhs_layout(
    contract: Mapping[str, pa.Table] | Path,
    out: Path,
    *,
    seed: int,
    presets_dir: Path,
    person_values: Mapping[str, str] | None = None,
    source: str | None = None,
) -> NhsExtract:
    """Write the contract tables as NHS-shaped extracts, the composed mapping and a manifest.

    Parameters
    ----------
    contract : mapping of table -> pyarrow.Table, or Path
        The contract tables (every column text, as :func:`read_contract` gives), or the folder
        holding them.
    out : Path
        Folder for the extract files, ``nhs_mapping.yaml`` and ``nhs_layout.json``.
    seed : int
        The county's seed: codes and noise rows come from its ``nhs_layout`` stream.
    presets_dir : Path
        The mapping presets (file and column names, date formats).
    person_values : mapping, optional
        Person token -> the value written instead (the seam for real-format NHS numbers);
        default: the tokens themselves.
    source : str, optional
        The mapping's ``source`` line.
    """
    tables = read_contract(contract) if isinstance(contract, Path) else dict(contract)
    presets = {name: load_preset(name, presets_dir) for name in NHS_PRESETS}
    ss = spawn_streams(seed)["nhs_layout"]
    known = {s for settings in _ACTIVITY_SETTINGS.values() for s in settings}
    other = sorted(set(tables["activity"]["setting"].unique().to_pylist()) - known)
    if other:
        raise ValueError(f"the NHS layout has no extract for setting(s) {other}")

    files: dict[str, pa.Table] = {}
    noise: dict[str, dict[str, int]] = {}
    gp = presets["gp_register"]
    files[_source(gp, "population")["file"]] = _gp_register(
        tables["population"], gp, stream_rng(ss, _SUBSTREAM["gp_register"])
    )
    for name in _ACTIVITY_SETTINGS:
        f = _source(presets[name], "activity")["file"]
        files[f], counts = _activity_file(
            name,
            tables["activity"],
            tables["population"],
            presets[name],
            stream_rng(ss, _SUBSTREAM[name]),
        )
        if counts:
            noise[f] = counts
    files.update(
        _mds_files(tables["referrals"], tables["measures"], presets["creative_health_mds"])
    )

    person_columns = {
        f: c for f, tb in files.items() for c in tb.column_names if c in _PERSON_COLUMNS
    }
    if person_values is not None:
        for f, c in person_columns.items():
            files[f] = _replace_person_ids(files[f], c, person_values)
    out = Path(out)
    remove_nhs_layout(out)
    clash = sorted(f for f in files if (out / f).exists())
    if clash:
        raise FileExistsError(
            f"{out} already holds {', '.join(clash)}, not written by evalkit synth; refusing to "
            "overwrite them. Choose another --demo folder."
        )
    for f, tb in files.items():
        write_table(tb, out / f, "csv")
    providers = {
        provider_code(p): p for p in sorted(set(tables["referrals"]["provider"].to_pylist()))
    }
    mapping = compose_mapping(
        {
            "source": source or f"synthetic county, NHS-shaped extract, seed {seed}",
            "presets": list(NHS_PRESETS),
            "providers": providers,
        },
        presets_dir,
    )
    mapping_path = out / MAPPING_FILE
    write_text(
        mapping_yaml(
            mapping,
            header="Written by evalkit synth --layout nhs: the presets of intake_mappings/presets\n"
            "composed (evalkit.presets.compose_mapping) for this extract's providers.",
        ),
        mapping_path,
    )
    rows = {f: tb.num_rows for f, tb in files.items()}
    write_json(
        {
            "layout": "nhs",
            "seed": seed,
            "presets": list(NHS_PRESETS),
            "files": rows,
            "noise": noise,
            "person_ids": "tokens" if person_values is None else "values given (NHS numbers)",
            "person_columns": person_columns,
        },
        out / MANIFEST_FILE,
    )
    notes = []
    if person_values is not None:
        notes.append(
            "  Person columns hold NHS numbers, not tokens: run evalkit pseudonymise on each "
            f"file's person column ({MANIFEST_FILE}: person_columns) before intake."
        )
    return NhsExtract(out=out, rows=rows, noise=noise, mapping=mapping_path, notes=notes)


def default_presets_dir(root: Path) -> Path:
    """The presets folder of a project root."""
    return Path(root) / PRESETS_SUBDIR
