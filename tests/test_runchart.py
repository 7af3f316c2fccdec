"""Run charts: the IHI shift and trend rules on hand-made series, and the SVG they draw."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest
from markupsafe import Markup

from improve.measures.runchart import NO_SIGNAL, analyse, axis_ticks, describe, render_svg

SVG = "{http://www.w3.org/2000/svg}"
# Twelve points alternating 10 and 15: median 12.5, and no shift or trend of their own.
BASELINE = [10, 15] * 6


def monthly(values, start=date(2025, 3, 1)):
    """One point a month from ``start``."""
    points = []
    for offset, value in enumerate(values):
        month = start.month - 1 + offset
        points.append((date(start.year + month // 12, month % 12 + 1, 1), value))
    return points


def kinds(chart):
    return [(s.kind, s.direction, s.count) for s in chart.signals]


def classes(element):
    return element.get("class", "").split()


def parse(svg):
    return ET.fromstring(str(svg))  # noqa: S314 - our own output, not untrusted input


# --- shifts -----------------------------------------------------------------------------------


def test_six_below_the_median_is_a_shift_and_five_is_not():
    chart = analyse(monthly(BASELINE + [11, 12, 11, 12, 11, 12]))
    assert chart.median == 12.5
    assert kinds(chart) == [("shift", "below", 6)]
    shift = chart.signals[0]
    assert (shift.start_index, shift.end_index) == (12, 17)
    assert shift.indices == tuple(range(12, 18))
    assert (shift.start, shift.end) == (date(2026, 3, 1), date(2026, 8, 1))

    assert kinds(analyse(monthly(BASELINE + [11, 12, 11, 12, 11]))) == []


def test_a_point_on_the_median_neither_breaks_a_shift_nor_counts():
    chart = analyse(monthly(BASELINE + [11, 12, 11, 12, 11, 12.5, 12]))
    assert kinds(chart) == [("shift", "below", 6)]
    shift = chart.signals[0]
    assert (shift.start_index, shift.end_index) == (12, 18)
    assert 17 not in shift.indices
    assert chart.points[17].signal_kinds == ()

    assert kinds(analyse(monthly(BASELINE + [11, 12, 11, 12, 11, 12.5]))) == []


def test_a_point_on_the_other_side_breaks_the_run():
    assert kinds(analyse(monthly(BASELINE + [11, 12, 11, 20, 11, 12, 11]))) == []


def test_a_shift_above_is_reported_once_however_long():
    chart = analyse(monthly(BASELINE + [14, 13, 14, 13, 14, 13, 14, 13, 14]))
    # the last baseline point (15) is above too: a run may start inside the baseline
    assert kinds(chart) == [("shift", "above", 10)]
    assert chart.signals[0].start_index == 11


# --- trends -----------------------------------------------------------------------------------


def test_five_rising_points_are_a_trend_and_four_are_not():
    chart = analyse(monthly([1, 2, 3, 4, 5]))
    assert kinds(chart) == [("trend", "up", 5)]
    assert chart.signals[0].indices == (0, 1, 2, 3, 4)
    assert kinds(analyse(monthly([1, 2, 3, 4]))) == []


def test_repeated_values_neither_add_to_nor_break_a_trend():
    chart = analyse(monthly([1, 2, 2, 3, 4, 5]))
    assert kinds(chart) == [("trend", "up", 5)]
    trend = chart.signals[0]
    assert trend.indices == (0, 1, 3, 4, 5)
    assert (trend.start_index, trend.end_index) == (0, 5)
    assert chart.points[2].signal_kinds == ()

    # the repeat does not count: only 4 points rise
    assert kinds(analyse(monthly([1, 2, 2, 3, 4]))) == []


def test_a_turning_point_belongs_to_both_trends():
    chart = analyse(monthly([1, 2, 3, 4, 5, 4, 3, 2, 1]))
    assert kinds(chart) == [("trend", "up", 5), ("trend", "down", 5)]
    assert chart.signals[1].start_index == 4


def test_a_falling_trend_is_an_improvement_when_lower_is_better():
    points = monthly([9, 8, 7, 6, 5])
    assert analyse(points, better="down").signals[0].improving is True
    assert analyse(points, better="up").signals[0].improving is False
    assert analyse(points).signals[0].improving is None
    assert "Lower is better for this measure, so this is an improvement." in (
        analyse(points, better="down").signals[0].explanation
    )
    assert "getting worse" in analyse(points, better="up").signals[0].explanation


# --- baseline and settings --------------------------------------------------------------------


def test_the_baseline_median_comes_from_the_first_twelve_points_only():
    chart = analyse(monthly(BASELINE + [100, 90, 100, 90, 100]))
    assert chart.median == 12.5
    assert chart.baseline_count == 12
    assert chart.baseline_complete is True
    assert [p.in_baseline for p in chart.points] == [True] * 12 + [False] * 5


def test_fewer_than_twelve_points_give_a_provisional_median():
    chart = analyse(monthly([4, 8, 6]))
    assert chart.median == 6
    assert chart.baseline_count == 3
    assert chart.baseline_complete is False
    assert "provisional" in describe(chart, "Falls", "")


def test_custom_thresholds_are_honoured():
    six_below = monthly(BASELINE + [11, 12, 11, 12, 11, 12])
    assert kinds(analyse(six_below, shift_length=7)) == []
    assert kinds(analyse(six_below + monthly([11], date(2026, 9, 1)), shift_length=7)) == [
        ("shift", "below", 7)
    ]
    assert kinds(analyse(monthly([1, 2, 3, 4, 5]), trend_length=6)) == []
    assert kinds(analyse(monthly([1, 2, 3, 4, 5, 6]), trend_length=6)) == [("trend", "up", 6)]


def test_a_shorter_baseline_can_be_asked_for():
    chart = analyse(monthly([10, 20, 100, 100]), baseline_points=2)
    assert chart.median == 15
    assert chart.baseline_complete is True


def test_points_are_sorted_and_a_month_given_twice_is_refused():
    chart = analyse(list(reversed(monthly([1, 2, 3]))))
    assert [p.value for p in chart.points] == [1, 2, 3]
    with pytest.raises(ValueError, match="March 2025"):
        analyse([(date(2025, 3, 1), 1), (date(2025, 3, 1), 2)])
    with pytest.raises(ValueError):
        analyse(monthly([1]), better="sideways")
    with pytest.raises(ValueError):
        analyse([(date(2025, 3, 1), float("nan"))])


def test_no_points_no_median_no_signals():
    chart = analyse([])
    assert chart.median is None
    assert chart.signals == ()
    assert chart.points == ()
    assert "no data yet" in describe(chart, "Falls")


# --- words ------------------------------------------------------------------------------------


def test_the_explanation_is_plain_english():
    chart = analyse(monthly(BASELINE + [11, 12, 11, 12, 11, 12]), better="down")
    assert chart.signals[0].explanation == (
        "From March 2026 to August 2026, 6 points in a row were below the baseline median of "
        "12.5: a shift, a sign that the change is real and not chance. Lower is better for this "
        "measure, so this is an improvement."
    )


def test_describe_gives_the_range_values_median_and_every_signal():
    chart = analyse(monthly(BASELINE + [11, 12, 11, 12, 11, 12]), better="down")
    text = chart.describe("Staff turnover", "%")
    assert "18 monthly points from March 2025 to August 2026" in text
    assert "The first value was 10 % and the latest is 12 %" in text
    assert "The baseline median, from the first 12 points, is 12.5 %" in text
    for signal in chart.signals:
        assert signal.explanation in text
    assert NO_SIGNAL not in text

    several = analyse(monthly([1, 2, 3, 4, 5, 4, 3, 2, 1]))
    text = describe(several, "Falls")
    assert all(signal.explanation in text for signal in several.signals)
    assert NO_SIGNAL in describe(analyse(monthly([3, 1, 2])), "Falls")


# --- SVG --------------------------------------------------------------------------------------


def test_the_svg_is_well_formed_accessible_and_has_a_shape_per_point():
    chart = analyse(monthly(BASELINE + [11, 12, 11, 12, 11, 12]), better="down")
    svg = render_svg(chart, title="Staff turnover", unit="%")
    assert isinstance(svg, Markup)
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    assert set(root.get("aria-labelledby").split()) <= ids
    assert root.find(f"{SVG}title").text == "Staff turnover"
    assert "The baseline median" in root.find(f"{SVG}desc").text

    shapes = [e for e in root.iter() if "rc-point" in classes(e)]
    assert len(shapes) == len(chart.points)
    signal_shapes = [e for e in shapes if "rc-signal" in classes(e)]
    assert len(signal_shapes) == 6
    # not by colour only: signal points are another shape
    assert {e.tag for e in signal_shapes} != {e.tag for e in shapes if e not in signal_shapes}
    assert shapes[0].find(f"{SVG}title").text == "March 2025: 10 %"
    assert any("rc-median" in classes(e) for e in root.iter())
    assert any("rc-line" in classes(e) for e in root.iter())
    assert "style=" not in str(svg)


def test_user_text_is_escaped():
    chart = analyse(monthly([1, 2, 3]))
    title = 'Falls <script>alert("x")</script> & more'
    svg = render_svg(
        chart, title=title, unit="<b>", markers=[(date(2025, 4, 1), "<script>x</script> & y")]
    )
    assert "&lt;script&gt;" in svg
    assert "&amp; more" in svg
    root = parse(svg)
    assert not [e for e in root.iter() if e.tag.endswith("script") or e.tag.endswith("b")]
    assert root.find(f"{SVG}title").text == title


def test_markers_inside_the_range_are_drawn_and_others_left_out():
    chart = analyse(monthly([5, 6, 7, 6, 5, 6]))
    svg = render_svg(
        chart,
        title="Falls",
        markers=[
            (date(2025, 5, 20), "Action verified: Supervision matrix in place"),
            (date(2024, 1, 1), "Too early"),
            (date(2030, 1, 1), "Too late"),
        ],
    )
    root = parse(svg)
    drawn = [e for e in root.iter() if "rc-marker" in classes(e)]
    assert len(drawn) == 1
    assert drawn[0].find(f"{SVG}title").text == "Action verified: Supervision matrix in place"
    assert "Too early" not in svg and "Too late" not in svg


@pytest.mark.parametrize(
    "values",
    [[], [7], [3, 3, 3, 3], [0, 0], [-5, 2, -1], [0.001, 0.002, 0.0015], [1e6, 2e6]],
)
def test_awkward_series_still_draw(values):
    svg = render_svg(analyse(monthly(values)), title="Awkward", unit="days")
    root = parse(svg)
    assert root.get("role") == "img"
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    assert "style=" not in svg
    assert len([e for e in root.iter() if "rc-point" in classes(e)]) == len(values)
    if not values:
        assert "No data yet" in svg


def test_month_labels_are_thinned_out_on_a_long_series():
    root = parse(render_svg(analyse(monthly(list(range(40)))), title="Long"))
    labels = [e.text for e in root.iter() if "rc-month" in classes(e)]
    assert labels[0] == "Mar 25"
    assert 3 <= len(labels) <= 12


def test_ids_are_safe_and_can_be_chosen():
    chart = analyse(monthly([1, 2]))
    root = parse(render_svg(chart, title="Care plans reviewed (%) on time!"))
    assert root.get("aria-labelledby") == (
        "runchart-care-plans-reviewed-on-time-title runchart-care-plans-reviewed-on-time-desc"
    )
    root = parse(render_svg(chart, title="x", id_prefix="Chart 2"))
    assert root.get("aria-labelledby") == "chart-2-title chart-2-desc"


@pytest.mark.parametrize(
    ("low", "high"), [(0, 10), (10, 15), (0.1, 0.37), (-4, 3), (12.5, 12.5), (0, 0), (7, 1000)]
)
def test_axis_ticks_are_round_and_cover_the_range(low, high):
    ticks = axis_ticks(low, high)
    assert 3 <= len(ticks) <= 5
    assert ticks[0] <= low and ticks[-1] >= high
    assert ticks == sorted(set(ticks))
