"""Configuration: valid files load; a typo gives an error naming the file and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from evalkit import config
from evalkit.config import ConfigError


def _copy_programmes(tmp_path: Path) -> Path:
    out = tmp_path / "programmes"
    shutil.copytree(config.programmes_dir(), out)
    return out


def test_shipped_programmes_instruments_and_costs_load() -> None:
    progs = config.load_programmes()
    assert set(progs) >= {"mindsong", "cyp", "chronic_pain"}
    defs = config.instruments()
    for prog in progs.values():
        assert set(prog.instruments) <= set(defs)
        assert prog.cost.source
    costs = config.load_unit_costs()
    for uc in costs.costs.values():
        assert uc.source and uc.original_price_year
        assert uc.cost == pytest.approx(uc.original_cost * uc.inflator, abs=0.01)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["matching"].update({"ratoi": 3}), "matching.ratoi"),  # typo in a key
        (lambda d: d["eligibility"].update({"age_min": "adult"}), "eligibility.age_min"),
        (lambda d: d["eligibility"].update({"conditions_any": ["copdd"]}), "eligibility"),
        (
            lambda d: (
                d.update({"primary_instrument": "cat"}) or d.update({"instruments": ["ons4"]})
            ),
            "(top level)",
        ),
        (
            lambda d: d["synthetic"]["referral_sources"].update({"gp": 0.9}),
            "synthetic.referral_sources",
        ),
        (lambda d: d["cost"].pop("source"), "cost.source"),
    ],
)
def test_programme_typo_error_names_file_and_field(tmp_path: Path, edit, field: str) -> None:
    progs = _copy_programmes(tmp_path)
    path = progs / "mindsong.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as exc:
        config.load_programme("mindsong", progs)
    assert str(path) in str(exc.value)
    assert field in str(exc.value)


def test_unknown_programme_lists_available(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="available: chronic_pain, cyp, mindsong"):
        config.load_programme("mindsnog")


def test_unknown_instrument_in_programme_is_named(tmp_path: Path) -> None:
    progs = _copy_programmes(tmp_path)
    path = progs / "cyp.yaml"
    data = yaml.safe_load(path.read_text())
    data["instruments"].append("sdq")
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(
        ConfigError, match=r"cyp\.yaml: instruments: unknown instrument\(s\) \['sdq'\]"
    ):
        config.load_programme("cyp", progs)


def test_slug_must_match_file_name(tmp_path: Path) -> None:
    progs = _copy_programmes(tmp_path)
    shutil.copy(progs / "cyp.yaml", progs / "cyp2.yaml")
    with pytest.raises(ConfigError, match="slug: 'cyp' does not match the file name"):
        config.load_programmes(progs)


def test_instrument_definition_typo_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "wemwbs.yaml"
    data = yaml.safe_load((config.instruments_dir() / "wemwbs.yaml").read_text())
    data["item_maxx"] = 5
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as exc:
        config.load_instrument(path)
    assert str(path) in str(exc.value) and "item_maxx" in str(exc.value)


# --- primary and secondary outcomes ------------------------------------------------------------
def test_outcomes_without_primary_default_to_emergency_admissions_at_12_months() -> None:
    out = config.Outcomes()
    assert out.primary_outcome() == config.DEFAULT_PRIMARY == ("emergency_admission", 12)
    assert out.secondary_settings() == [s for s in out.settings if s != "emergency_admission"]
    assert out.chosen_by() == "default"


def test_shipped_programmes_name_their_primary_and_secondary_outcomes() -> None:
    for prog in config.load_programmes().values():
        out = prog.outcomes
        setting, window = out.primary_outcome()
        assert out.chosen_by() == "config"
        assert setting in out.settings and window in out.windows_months
        # Every other setting is secondary, each once.
        assert sorted([setting, *out.secondary_settings()]) == sorted(out.settings)


@pytest.mark.parametrize(
    ("outcomes", "message"),
    [
        ({"primary": {"setting": "gp_appointment", "window_months": 9}}, "primary window 9"),
        ({"primary": {"setting": "ae_attendances", "window_months": 12}}, "primary setting"),
        ({"secondary": ["emergency_admission"]}, "names the primary setting"),
        ({"secondary": ["gp_appointment", "gp_appointment"]}, "names a setting twice"),
        ({"secondary": ["elective_admission"]}, "not in settings"),
        ({"primary": {"setting": "gp_appointment", "windows": 12}}, "outcomes.primary"),
    ],
)
def test_outcomes_invalid_primary_or_secondary_names_file_and_field(
    tmp_path: Path, outcomes: dict, message: str
) -> None:
    progs = _copy_programmes(tmp_path)
    path = progs / "mindsong.yaml"
    data = yaml.safe_load(path.read_text())
    data["outcomes"].pop("primary")
    data["outcomes"].pop("secondary")
    data["outcomes"].update(outcomes)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as exc:
        config.load_programme("mindsong", progs)
    assert str(path) in str(exc.value) and "outcomes" in str(exc.value)
    assert message in str(exc.value)


# --- negative controls -------------------------------------------------------------------------
def test_outcomes_negative_controls_default_to_none() -> None:
    assert config.Outcomes().negative_controls == []


def test_shipped_programmes_name_elective_admissions_as_negative_control() -> None:
    for prog in config.load_programmes().values():
        assert prog.outcomes.negative_controls == ["elective_admission"]
        assert not set(prog.outcomes.negative_controls) & set(prog.outcomes.settings)


@pytest.mark.parametrize(
    ("negative_controls", "message"),
    [
        (["emergency_admission"], "allowed: elective_admission"),
        (["prescription_item"], "allowed: elective_admission"),
        (["elective_admission", "elective_admission"], "names a setting twice"),
    ],
)
def test_outcomes_invalid_negative_controls_names_file_and_field(
    tmp_path: Path, negative_controls: list[str], message: str
) -> None:
    progs = _copy_programmes(tmp_path)
    path = progs / "mindsong.yaml"
    data = yaml.safe_load(path.read_text())
    data["outcomes"]["negative_controls"] = negative_controls
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as exc:
        config.load_programme("mindsong", progs)
    assert str(path) in str(exc.value) and "negative_controls" in str(exc.value)
    assert message in str(exc.value)


def test_outcomes_negative_control_cannot_be_an_outcome_setting() -> None:
    # elective_admission is not an outcome setting (the contract's optional settings are not),
    # so naming it in both is stopped at ``settings`` before the overlap check.
    with pytest.raises(ValueError, match="unknown settings"):
        config.Outcomes(
            settings=["gp_appointment", "elective_admission"],
            negative_controls=["elective_admission"],
        )
