"""The activity page's before and after in words: labels and vocabularies are the ones
the app's forms use; nothing a reader sees is a column name or a stored code."""

from __future__ import annotations

from improve.history_words import in_words, word


def test_a_stage_change_reads_as_the_stages_are_named():
    assert in_words("case", {"stage": "plan_drafted"}, {"stage": "plan_agreed"}) == [
        {"label": "Stage", "was": "Plan drafted", "now": "Plan agreed"}
    ]


def test_a_new_rating_moving_a_case_on_reads_in_words():
    changes = in_words(
        "case",
        {"stage": "awaiting_reinspection", "special_measures": True, "sustain_until": None},
        {"stage": "sustaining", "special_measures": False, "sustain_until": "2027-06-01"},
    )
    assert changes == [
        {"label": "Stage", "was": "Awaiting re-inspection", "now": "Sustaining"},
        {"label": "Special measures", "was": "Yes", "now": "No"},
        {"label": "Watch until", "was": "—", "now": "1 Jun 2027"},
    ]


def test_a_new_finding_names_its_statements_and_hides_the_framework_code():
    changes = in_words(
        "finding",
        None,
        {
            "framework": "saf",
            "regulation": "12",
            "key_question": "safe",
            "items": ["safe.medicines"],
            "severity": "high",
            "source": "cqc_inspection",
            "description": "MAR charts had gaps",
        },
    )
    assert [(c["label"], c["now"]) for c in changes] == [
        ("Regulation", "Regulation 12"),
        ("Key question", "Safe"),
        ("Quality statements", "Medicines optimisation"),
        ("Severity", "High"),
        ("Source", "CQC inspection"),
        ("What was found", "MAR charts had gaps"),
    ]
    assert all(c["was"] == "" for c in changes)  # a new thing has no before


def test_statuses_read_in_the_words_of_their_own_kind_of_thing():
    assert word("finding", "status", "resolved") == "Confirmed resolved at re-inspection"
    assert word("action", "status", "in_progress") == "In progress"
    assert word("case", "outcome", "still_inadequate") == "Still inadequate"


def test_a_review_reads_with_theme_names_and_colours():
    changes = in_words(
        "review",
        None,
        {
            "audience": "commissioner",
            "rag": {"person_centred_care": "red", "staffing": "amber"},
            "overall_rag": "red",
            "confidence": "low",
            "next_review_on": "2026-12-20",
        },
    )
    assert [(c["label"], c["now"]) for c in changes] == [
        ("Review", "Commissioner review"),
        ("Themes", "Person-centred care: Red; Staffing: Amber"),
        ("Overall", "Red"),
        ("Confidence in the plan", "Low"),
        ("Next review", "20 Dec 2026"),
    ]


def test_a_rating_reads_as_cqc_writes_it():
    changes = in_words(
        "rating",
        None,
        {"published_on": "2026-04-30", "overall": "requires_improvement", "well_led": ""},
    )
    assert [(c["label"], c["now"]) for c in changes] == [
        ("Published", "30 Apr 2026"),
        ("Overall rating", "Requires improvement"),
        ("Well-led", "—"),
    ]


def test_evidence_reads_without_its_fingerprint():
    changes = in_words(
        "evidence",
        None,
        {
            "kind": "file",
            "file_name": "audit.csv",
            "content_type": "text/csv",
            "size": 2048,
            "sha256": "05ef",
        },
    )
    assert [(c["label"], c["now"]) for c in changes] == [
        ("Kind", "File"),
        ("File", "audit.csv"),
        ("File type", "CSV"),
        ("Size", "2 KB"),
    ]


def test_people_are_named_and_unknown_fields_still_read_as_words():
    names = {7: "Priya Shah"}
    assert word("action", "owner", 7, names) == "Priya Shah"
    assert word("action", "owner", None, names) == "not assigned"
    assert word("action", "verified_by", 99, names) == "someone no longer listed"
    assert in_words("case", {"internal_review_days": 14}, {"internal_review_days": 7}) == [
        {"label": "Days between internal reviews", "was": "14", "now": "7"}
    ]
    assert in_words("case", None, {"some_new_field": "x"})[0]["label"] == "Some new field"
