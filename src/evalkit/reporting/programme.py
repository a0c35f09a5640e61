"""Build a programme's report outputs: results.json and the table CSVs.

The HTML report from the parameterised notebook is a later piece of work; this writes the data a
report is built from, after disclosure control, into ``reports/<slug>/`` atomically.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from evalkit._jsonsafe import write_json
from evalkit.analysis import load_study, wellbeing_all, wellbeing_entries
from evalkit.analysis.utilisation import matched_cohort, utilisation_all, utilisation_table
from evalkit.config import instruments
from evalkit.reporting.results import build_results, write_table


def methods_appendix(instrument_names: list[str]) -> dict[str, Any]:
    """Describe each instrument for the methods appendix.

    States its scoring, its missing-item rule (and whether that is the developers' verified rule
    or the conservative fallback), its change thresholds and sources.
    """
    defs = instruments()
    out = {}
    for name in instrument_names:
        d = defs[name]
        out[name] = {
            "title": d.title,
            "scoring": d.scoring,
            "direction": d.direction,
            "missing_rule": d.missing_rule,
            "missing_rule_verified": d.missing_rule_verified,
            "missing_rule_source": d.missing_rule_source,
            "thresholds": [t.model_dump() for t in d.thresholds],
            "sources": list(d.sources),
        }
    return {"instruments": out}


def build_programme_outputs(
    programme: str, processed_dir: Path, reports_dir: Path, *, progress: Any = None
) -> Path:
    """Run the programme's analyses and write ``reports/<slug>/results.json`` and CSVs.

    Everything is written to a temporary directory beside the target and moved into place at the
    end, so an interrupted run never leaves a half-written report in place of a good one.
    """
    say = progress or (lambda msg: None)
    study = load_study(programme, processed_dir)
    prog = study.programme
    say("matching participants to risk-set controls")
    mc = matched_cohort(study)
    say("difference-in-differences per setting and window")
    util = utilisation_table(utilisation_all(mc)).to_dict(orient="records")
    say("wellbeing pre/post")
    wb = wellbeing_entries(wellbeing_all(study))
    parameters = {
        "programme": prog.slug,
        "outcomes": prog.outcomes.model_dump(),
        "matching": mc.spec,
        "unit_costs": {"table": study.unit_costs.name, "price_year": study.unit_costs.price_year},
        "instruments": list(prog.instruments),
    }
    results = build_results(
        prog.slug,
        processed_dir=processed_dir,
        parameters=parameters,
        utilisation=util,
        wellbeing=wb,
        extra={"methods": methods_appendix(prog.instruments)},
    )
    target = Path(reports_dir) / prog.slug
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{prog.slug}-", dir=target.parent))
    try:
        write_json(results, tmp / "results.json")
        write_table(results["utilisation"], tmp / "utilisation.csv")
        write_table(results["wellbeing"], tmp / "wellbeing.csv")
        old = target.with_name(f".{prog.slug}-old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
