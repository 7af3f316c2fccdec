"""The assessment framework is data: loaded, validated, and extendable without code."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from improve import framework
from improve.framework import FRAMEWORKS_DIR, FrameworkError, load_all

REGULATIONS = ["9", "9A", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20", "20A"]


def test_saf_has_the_34_quality_statements_under_their_titles():
    saf = framework.get("saf")
    assert len(saf.items) == 34
    per_question = {kq: len(saf.items_for(kq)) for kq in framework.KEY_QUESTIONS}
    assert per_question == {"safe": 8, "effective": 6, "caring": 5, "responsive": 7, "well_led": 8}
    titles = {i.title for i in saf.items.values()}
    assert "Environmental sustainability – sustainable development" in titles
    assert "Responding to people's immediate needs" in titles
    assert list(saf.regulations) == REGULATIONS


def test_every_regulation_belongs_to_some_statement():
    saf = framework.get("saf")
    used = {r for item in saf.items.values() for r in item.regulations}
    assert used == set(REGULATIONS)


EXTRA = """
id: asc-test
title: A small later framework
in_force_from: 2027-01-01
key_questions:
  - {id: safe, question: "Safe?"}
  - {id: effective, question: "Effective?"}
  - {id: caring, question: "Caring?"}
  - {id: responsive, question: "Responsive?"}
  - {id: well_led, question: "Well-led?"}
regulations:
  - {id: "12", title: Safe care and treatment}
  - {id: "17", title: Good governance}
key_lines_of_enquiry:
  - {id: asc-test.s1, key_question: safe, title: People are safe, regulations: ["12"]}
  - {id: asc-test.w1, key_question: well_led, title: Leaders know the service, regulations: ["17"]}
"""


def test_a_new_framework_version_is_just_a_new_file(tmp_path):
    folder = tmp_path / "frameworks"
    shutil.copytree(FRAMEWORKS_DIR, folder)
    (folder / "asc-test.yaml").write_text(EXTRA)
    loaded = load_all(folder)
    assert set(loaded) >= {"saf", "asc-test"}
    later = loaded["asc-test"]
    assert later.in_force_from == dt.date(2027, 1, 1)
    assert later.items["asc-test.w1"].kind == "key line of enquiry"
    assert [i.id for i in later.items_for("safe")] == ["asc-test.s1"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t.replace("in_force_from: 2027-01-01", "in_force_from: soon"),
            "asc-test.yaml (asc-test): field 'in_force_from' must be a date",
        ),
        (
            lambda t: t.replace("title: People are safe, ", ""),
            "key_lines_of_enquiry 'asc-test.s1': field 'title' is missing",
        ),
        (
            lambda t: t.replace('regulations: ["17"]}', 'regulations: ["99"]}'),
            "key_lines_of_enquiry 'asc-test.w1': field 'regulations' names unknown ['99']",
        ),
        (
            lambda t: t.replace("key_question: safe,", "key_question: kind,"),
            "field 'key_question' is not a key question: kind",
        ),
        (
            lambda t: t.replace('  - {id: caring, question: "Caring?"}\n', ""),
            "key_questions lacks caring",
        ),
    ],
)
def test_bad_files_are_refused_naming_file_entry_and_field(tmp_path, change, message):
    (tmp_path / "asc-test.yaml").write_text(change(EXTRA))
    with pytest.raises(FrameworkError) as refused:
        load_all(tmp_path)
    assert message in str(refused.value)


def test_version_in_force_depends_on_the_date(tmp_path, monkeypatch):
    assert framework.in_force(dt.date(2024, 6, 1)).id == "saf"
    assert Path(framework.get("saf").file).name == "saf.yaml"
