"""The one label table: every contract setting has a reader's name."""

from __future__ import annotations

from evalkit.contract import SETTINGS
from evalkit.definitions.labels import event_noun, labels, setting_label


def test_labels_every_contract_setting_has_a_label_and_a_noun() -> None:
    table = labels()
    assert set(SETTINGS) <= set(table.settings)
    assert set(SETTINGS) <= set(table.event_nouns)
    assert "total_cost" in table.settings


def test_setting_label_capitalises_only_the_first_letter() -> None:
    assert setting_label("gp_appointment", capital=True) == "GP appointments"
    assert setting_label("ooh_contact", capital=True) == "Out-of-hours contacts"


def test_setting_label_unknown_code_falls_back_to_its_words() -> None:
    assert setting_label("social_prescribing_link") == "social prescribing link"
    assert event_noun("social_prescribing_link") == "social prescribing link"
