"""Run charts: find shifts and trends in a monthly measure, describe them, draw them as SVG.

NHS and IHI practice: plot one value a month, draw the median of a baseline period (the first
12 points), and look for signals that a change is real rather than chance:

* a shift: 6 or more points in a row on one side of the median; points exactly on the median
  neither break the run nor count towards it;
* a trend: 5 or more points in a row all going up or all going down; a value repeated from the
  point before neither adds to nor breaks the trend.

Pure code: no database, no web layer. The SVG is built from literal templates whose arguments
markupsafe escapes, so titles and labels typed by users can never become markup.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from markupsafe import Markup

Better = Literal["up", "down"] | None

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

NO_SIGNAL = "No shift or trend yet: the changes so far may be chance."


# --- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    month: date
    value: float
    in_baseline: bool
    signal_kinds: tuple[str, ...] = ()  # "shift" and/or "trend" when the point counts in one

    @property
    def in_signal(self) -> bool:
        return bool(self.signal_kinds)


@dataclass(frozen=True)
class Signal:
    kind: Literal["shift", "trend"]
    direction: Literal["above", "below", "up", "down"]
    start: date
    end: date
    start_index: int  # first counted point
    end_index: int  # last counted point (inclusive)
    indices: tuple[int, ...]  # the points that count; skipped ones (on the median, repeats) not
    count: int
    improving: bool | None  # None when the measure has no better direction
    explanation: str


@dataclass(frozen=True)
class RunChart:
    points: tuple[Point, ...]
    median: float | None
    baseline_count: int
    baseline_complete: bool
    better: Better
    signals: tuple[Signal, ...]
    baseline_target: int = 12  # how many points a complete baseline has

    def describe(self, name: str, unit: str = "") -> str:
        return describe(self, name, unit)


# --- words and numbers ------------------------------------------------------------------------


def month_name(day: date) -> str:
    """ "March 2026": English whatever the server's locale."""
    return f"{MONTH_NAMES[day.month - 1]} {day.year}"


def month_abbr(day: date) -> str:
    """ "Mar 26", short enough for an axis label."""
    return f"{MONTH_NAMES[day.month - 1][:3]} {day.year % 100:02d}"


def format_value(value: float, decimals: int = 2) -> str:
    """At most ``decimals`` decimals and no trailing zeros: 12.5, 12, 0.25."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def with_unit(value: float, unit: str) -> str:
    return f"{format_value(value)} {unit}" if unit else format_value(value)


# --- analysis ---------------------------------------------------------------------------------


def analyse(
    points: Iterable[tuple[date, float]],
    *,
    baseline_points: int = 12,
    shift_length: int = 6,
    trend_length: int = 5,
    better: Better = None,
) -> RunChart:
    """Baseline median and the shifts and trends in a monthly series."""
    _check_settings(baseline_points, shift_length, trend_length, better)
    series = _clean(points)
    values = [value for _, value in series]
    baseline = values[:baseline_points]
    median = statistics.median(baseline) if baseline else None
    complete = len(values) >= baseline_points
    signals: list[Signal] = []
    if median is not None:
        for direction, run in _shift_runs(values, median):
            if len(run) >= shift_length:
                signals.append(_signal("shift", direction, run, series, median, complete, better))
        for direction, run in _trend_runs(values):
            if len(run) >= trend_length:
                signals.append(_signal("trend", direction, run, series, median, complete, better))
    signals.sort(key=lambda s: (s.start_index, s.kind))
    return RunChart(
        points=_points(series, len(baseline), signals),
        median=median,
        baseline_count=len(baseline),
        baseline_complete=complete,
        better=better,
        signals=tuple(signals),
        baseline_target=baseline_points,
    )


def _check_settings(baseline_points: int, shift_length: int, trend_length: int, better) -> None:
    if better not in ("up", "down", None):
        raise ValueError(f'better must be "up", "down" or None, not {better!r}')
    if baseline_points < 1:
        raise ValueError("baseline_points must be at least 1")
    # a "run" of one point would flag every point as a signal
    if shift_length < 2 or trend_length < 2:
        raise ValueError("shift_length and trend_length must be at least 2")


def _clean(points: Iterable[tuple[date, float]]) -> list[tuple[date, float]]:
    """Dates in order, values as finite floats, at most one value a month."""
    series: list[tuple[date, float]] = []
    for month, value in points:
        if isinstance(month, datetime):
            month = month.date()
        if not isinstance(month, date):
            raise TypeError(f"expected a date, got {month!r}")
        number = float(value)
        if not math.isfinite(number):  # NaN would poison the median and every comparison
            raise ValueError(f"the value for {month_name(month)} is not a number: {value!r}")
        series.append((month, number))
    series.sort(key=lambda point: point[0])
    for (earlier, _), (later, _) in zip(series, series[1:], strict=False):
        # A run chart has one value a month: two in a month (same date or not) would be drawn
        # on top of each other and counted twice in runs.
        if (earlier.year, earlier.month) == (later.year, later.month):
            raise ValueError(f"two values for {month_name(later)}: one value a month, please")
    return series


def _shift_runs(values: Sequence[float], median: float) -> list[tuple[str, list[int]]]:
    """Every maximal run of points on one side of the median, as (side, indices)."""
    runs: list[tuple[str, list[int]]] = []
    side, run = "", []
    for index, value in enumerate(values):
        if value == median:
            continue  # on the median: neither breaks the run nor counts towards it
        here = "above" if value > median else "below"
        if here != side:
            if run:
                runs.append((side, run))
            side, run = here, []
        run.append(index)
    if run:
        runs.append((side, run))
    return runs


def _trend_runs(values: Sequence[float]) -> list[tuple[str, list[int]]]:
    """Every maximal run of points all going up or all going down, as (direction, indices)."""
    # IHI rule: a value equal to the one before is ignored, so keep the first of each repeat.
    kept = [i for i, value in enumerate(values) if i == 0 or value != values[i - 1]]
    runs: list[tuple[str, list[int]]] = []
    direction, run = "", kept[:1]
    for before, index in zip(kept, kept[1:], strict=False):
        step = "up" if values[index] > values[before] else "down"
        if direction and step != direction:
            runs.append((direction, run))
            run = [before]  # the turning point ends one trend and starts the next
        direction = step
        run.append(index)
    if direction:
        runs.append((direction, run))
    return runs


def _improving(direction: str, better: Better) -> bool | None:
    if better is None:
        return None
    return (direction in ("above", "up")) == (better == "up")


def _signal(
    kind: Literal["shift", "trend"],
    direction,
    run: list[int],
    series: Sequence[tuple[date, float]],
    median: float,
    baseline_complete: bool,
    better: Better,
) -> Signal:
    start, end = series[run[0]][0], series[run[-1]][0]
    improving = _improving(direction, better)
    if kind == "shift":
        which = "baseline" if baseline_complete else "provisional"
        what = (
            f"{len(run)} points in a row were {direction} the {which} median of "
            f"{format_value(median)}: a shift"
        )
    else:
        what = f"{len(run)} points in a row went {direction}: a trend"
    text = (
        f"From {month_name(start)} to {month_name(end)}, {what}, "
        "a sign that the change is real and not chance."
    )
    if better is not None:
        verdict = "an improvement" if improving else "getting worse"
        text += f" {'Higher' if better == 'up' else 'Lower'} is better for this measure, "
        text += f"so this is {verdict}."
    return Signal(
        kind=kind,
        direction=direction,
        start=start,
        end=end,
        start_index=run[0],
        end_index=run[-1],
        indices=tuple(run),
        count=len(run),
        improving=improving,
        explanation=text,
    )


def _points(
    series: Sequence[tuple[date, float]], baseline_count: int, signals: Sequence[Signal]
) -> tuple[Point, ...]:
    kinds: dict[int, set[str]] = {}
    for signal in signals:
        for index in signal.indices:
            kinds.setdefault(index, set()).add(signal.kind)
    return tuple(
        Point(month, value, index < baseline_count, tuple(sorted(kinds.get(index, ()))))
        for index, (month, value) in enumerate(series)
    )


def describe(chart: RunChart, name: str, unit: str = "") -> str:
    """A text alternative to the chart, for screen readers and for people who prefer words.

    Plain text: escape it before putting it in HTML (Jinja's autoescape does).
    """
    label = f"{name}: " if name else ""
    if not chart.points:
        return f"{label}no data yet."
    first, latest = chart.points[0], chart.points[-1]
    if len(chart.points) == 1:
        sentences = [
            f"{label}1 monthly point, {month_name(first.month)}, "
            f"with a value of {with_unit(first.value, unit)}."
        ]
    else:
        sentences = [
            f"{label}{len(chart.points)} monthly points from {month_name(first.month)} "
            f"to {month_name(latest.month)}.",
            f"The first value was {with_unit(first.value, unit)} "
            f"and the latest is {with_unit(latest.value, unit)}.",
        ]
    median = with_unit(chart.median or 0.0, unit)
    if chart.baseline_complete:
        sentences.append(
            f"The baseline median, from the first {chart.baseline_count} points, is {median}."
        )
    else:
        sentences.append(
            f"The median so far is {median}; it is provisional until there are "
            f"{chart.baseline_target} points."
        )
    sentences.extend(signal.explanation for signal in chart.signals)
    if not chart.signals:
        sentences.append(NO_SIGNAL)
    return " ".join(sentences)


# --- drawing ----------------------------------------------------------------------------------

# GOV.UK palette: high contrast against white.
INK = "#0b0c0c"
GREY = "#505a5f"
LIGHT = "#b1b4b6"
LINE = "#1d70b8"
SIGNAL = "#912b88"
MARKER = "#00703c"

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 84, 24, 34
X_PAD = 12  # keeps the first and last points off the plot's edges
LABEL_SPACING = 48  # pixels an axis label like "Mar 26" needs, gap included
NICE_STEPS = (1, 2, 2.5, 5)


def _month_number(day: date) -> int:
    """Months since year 0: the x position, so a missing month leaves a gap."""
    return day.year * 12 + day.month - 1


def _from_month_number(number: int) -> date:
    return date(number // 12, number % 12 + 1, 1)


@dataclass(frozen=True)
class _Frame:
    """Where the plot sits in the SVG and how months and values map onto it."""

    left: float
    top: float
    right: float
    bottom: float
    first_month: int
    last_month: int
    low: float
    high: float

    def x(self, month_number: int) -> float:
        span = self.last_month - self.first_month
        if span == 0:  # a single month: put it in the middle
            return (self.left + self.right) / 2
        inner = self.right - self.left - 2 * X_PAD
        return self.left + X_PAD + (month_number - self.first_month) / span * inner

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return self.bottom - share * (self.bottom - self.top)


def _n(number: float) -> str:
    """A coordinate: one decimal is finer than a pixel."""
    return format_value(number, 1)


def axis_ticks(low: float, high: float) -> list[float]:
    """3 to 5 round-numbered ticks (steps of 1, 2, 2.5 or 5 times a power of ten) over the range."""
    if high == low:  # all values equal: open a band around them rather than divide by zero
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    magnitude = 10 ** math.floor(math.log10((high - low) / 5))
    # Candidate steps in increasing size; the first that needs no more than 5 ticks wins, and
    # since each step is at most twice the one before, it still gives at least 3.
    for power in range(4):
        for nice in NICE_STEPS:
            step = nice * magnitude * 10**power
            first, last = math.floor(low / step), math.ceil(high / step)
            if last - first + 1 <= 5:
                decimals = max(0, 1 - math.floor(math.log10(step)))
                return [round(n * step, decimals) for n in range(first, last + 1)]
    return [low, high]  # not reached; keeps the type checker content


def _tick_decimals(ticks: Sequence[float]) -> int:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    return max(0, 1 - math.floor(math.log10(step)))


def _frame(chart: RunChart, ticks: Sequence[float], width: int, height: int) -> _Frame:
    months = [_month_number(point.month) for point in chart.points]
    return _Frame(
        left=MARGIN_LEFT,
        top=MARGIN_TOP,
        right=max(width - MARGIN_RIGHT, MARGIN_LEFT + 40),
        bottom=max(height - MARGIN_BOTTOM, MARGIN_TOP + 40),
        first_month=months[0],
        last_month=months[-1],
        low=ticks[0],
        high=ticks[-1],
    )


def make_id_prefix(text: str) -> str:
    """Only [a-z0-9-], so it is safe in an id and in aria-labelledby's space-separated list."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return slug or "runchart"


def render_svg(
    chart: RunChart,
    *,
    title: str,
    unit: str = "",
    markers: Iterable[tuple[date, str]] = (),
    width: int = 640,
    height: int = 240,
    id_prefix: str | None = None,
) -> Markup:
    """The run chart as inline SVG: no script, no inline styles (the CSP forbids both).

    ``markers`` are (date, label) pairs, e.g. when an action was verified; those outside the
    chart's months are left out. Give each chart on a page its own ``id_prefix``: by default it
    comes from the title.
    """
    prefix = make_id_prefix(id_prefix if id_prefix is not None else f"runchart-{title}")
    description = describe(chart, title, unit)
    if not chart.points:
        return _empty_svg(title, description, prefix, width)
    values = [point.value for point in chart.points]
    median = chart.median if chart.median is not None else values[0]
    ticks = axis_ticks(min(*values, median), max(*values, median))
    frame = _frame(chart, ticks, width, height)
    shown = _markers_in_range(markers, frame)
    if shown:
        labels = "; ".join(f"{month_name(day)}, {label}" for day, label in shown)
        description += f" Marked on the chart: {labels}."
    parts = [
        _svg_open(title, description, prefix, width, height),
        _y_axis(frame, ticks, unit),
        _x_axis(frame),
        _median(chart, frame, median),
        *(_marker(frame, day, label) for day, label in shown),
        _line(chart, frame),
        *(_point(point, frame, unit) for point in chart.points),
        _legend(frame) if chart.signals else Markup(""),
        Markup("</svg>"),
    ]
    return Markup("\n").join(part for part in parts if part)


def _svg_open(title: str, description: str, prefix: str, width: int, height: int) -> Markup:
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="rc-chart" role="img" '
        'aria-labelledby="{0}-title {0}-desc" width="{1}" height="{2}" viewBox="0 0 {1} {2}" '
        'font-family="sans-serif" font-size="11" fill="{5}">\n'
        '<title id="{0}-title">{3}</title>\n<desc id="{0}-desc">{4}</desc>'
    ).format(prefix, width, height, title, description, INK)


def _empty_svg(title: str, description: str, prefix: str, width: int) -> Markup:
    return Markup("\n").join(
        [
            _svg_open(title, description, prefix, width, 40),
            Markup('<text class="rc-empty" x="8" y="24">No data yet</text>'),
            Markup("</svg>"),
        ]
    )


def _y_axis(frame: _Frame, ticks: Sequence[float], unit: str) -> Markup:
    decimals = _tick_decimals(ticks)
    parts = [Markup('<g class="rc-axis">')]
    for tick in ticks:
        y = _n(frame.y(tick))
        parts.append(
            Markup(
                '<line x1="{0}" y1="{2}" x2="{1}" y2="{2}" stroke="{3}" stroke-width="1"/>'
                '<text x="{4}" y="{2}" dy="4" text-anchor="end">{5}</text>'
            ).format(
                _n(frame.left),
                _n(frame.right),
                y,
                LIGHT if tick != ticks[0] else GREY,
                _n(frame.left - 6),
                format_value(tick, decimals),
            )
        )
    if unit:  # the unit once, above the numbers, rather than on every tick
        parts.append(
            Markup('<text x="{0}" y="{1}" text-anchor="end">{2}</text>').format(
                _n(frame.left - 6), _n(frame.top - 10), unit
            )
        )
    parts.append(
        Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="{3}" stroke-width="1"/>').format(
            _n(frame.left), _n(frame.top), _n(frame.bottom), GREY
        )
    )
    parts.append(Markup("</g>"))
    return Markup("").join(parts)


def _x_axis(frame: _Frame) -> Markup:
    months = frame.last_month - frame.first_month + 1
    room = max(1, int((frame.right - frame.left) // LABEL_SPACING))
    every = math.ceil(months / room)  # thin the labels out so they never overlap
    parts = [Markup('<g class="rc-axis">')]
    for number in range(frame.first_month, frame.last_month + 1, every):
        x = _n(frame.x(number))
        parts.append(
            Markup(
                '<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="{3}" stroke-width="1"/>'
                '<text class="rc-month" x="{0}" y="{4}" text-anchor="middle">{5}</text>'
            ).format(
                x,
                _n(frame.bottom),
                _n(frame.bottom + 4),
                GREY,
                _n(frame.bottom + 16),
                month_abbr(_from_month_number(number)),
            )
        )
    parts.append(
        Markup('<line x1="{0}" y1="{2}" x2="{1}" y2="{2}" stroke="{3}" stroke-width="1"/>').format(
            _n(frame.left), _n(frame.right), _n(frame.bottom), GREY
        )
    )
    parts.append(Markup("</g>"))
    return Markup("").join(parts)


def _median(chart: RunChart, frame: _Frame, median: float) -> Markup:
    """The dashed median across the whole plot, labelled, with the end of the baseline marked."""
    y = frame.y(median)
    parts = [
        Markup(
            '<line class="rc-median" x1="{0}" y1="{2}" x2="{1}" y2="{2}" stroke="{3}" '
            'stroke-width="1.5" stroke-dasharray="6 4"/>'
            '<text class="rc-median" x="{4}" y="{2}" dy="4">median</text>'
        ).format(_n(frame.left), _n(frame.right), _n(y), GREY, _n(frame.right + 6))
    ]
    if not chart.baseline_complete:
        parts.append(
            Markup('<text class="rc-median" x="{0}" y="{1}" dy="4">(provisional)</text>').format(
                _n(frame.right + 6), _n(y + 13)
            )
        )
    elif chart.baseline_count < len(chart.points):
        # Halfway between the last baseline point and the next: "baseline" reads leftwards.
        last = _month_number(chart.points[chart.baseline_count - 1].month)
        after = _month_number(chart.points[chart.baseline_count].month)
        x = _n((frame.x(last) + frame.x(after)) / 2)
        parts.append(
            Markup(
                '<g class="rc-baseline"><title>End of the baseline</title>'
                '<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="{3}" stroke-width="1"/>'
                '<text x="{0}" y="{1}" dx="-3" dy="9" text-anchor="end" font-size="10" '
                'fill="{4}">baseline</text></g>'
            ).format(x, _n(frame.top), _n(frame.bottom), LIGHT, GREY)
        )
    return Markup("").join(parts)


def _markers_in_range(markers: Iterable[tuple[date, str]], frame: _Frame) -> list[tuple[date, str]]:
    return [
        (day, label)
        for day, label in markers
        if frame.first_month <= _month_number(day) <= frame.last_month
    ]


def _marker(frame: _Frame, day: date, label: str) -> Markup:
    # The invisible wide line gives the hover title a target wider than the dashed hairline.
    return Markup(
        '<g class="rc-marker"><title>{0}</title>'
        '<line x1="{1}" y1="{2}" x2="{1}" y2="{3}" stroke="{4}" stroke-width="1.5" '
        'stroke-dasharray="3 3"/>'
        '<line x1="{1}" y1="{2}" x2="{1}" y2="{3}" stroke="{4}" stroke-opacity="0" '
        'stroke-width="10"/></g>'
    ).format(label, _n(frame.x(_month_number(day))), _n(frame.top), _n(frame.bottom), MARKER)


def _line(chart: RunChart, frame: _Frame) -> Markup:
    coordinates = " ".join(
        f"{_n(frame.x(_month_number(point.month)))},{_n(frame.y(point.value))}"
        for point in chart.points
    )
    return Markup(
        '<polyline class="rc-line" points="{0}" fill="none" stroke="{1}" stroke-width="2"/>'
    ).format(coordinates, LINE)


def _point(point: Point, frame: _Frame, unit: str) -> Markup:
    """A circle, or for a point in a signal a bigger diamond: shape as well as colour."""
    x, y = frame.x(_month_number(point.month)), frame.y(point.value)
    tooltip = f"{month_name(point.month)}: {with_unit(point.value, unit)}"
    if not point.in_signal:
        return Markup(
            '<circle class="rc-point" cx="{0}" cy="{1}" r="4" fill="#ffffff" stroke="{2}" '
            'stroke-width="2"><title>{3}</title></circle>'
        ).format(_n(x), _n(y), LINE, tooltip)
    tooltip += f" (part of a {' and a '.join(point.signal_kinds)})"
    return Markup(
        '<polygon class="rc-point rc-signal" points="{0}" fill="{1}" stroke="#ffffff" '
        'stroke-width="1"><title>{2}</title></polygon>'
    ).format(_diamond(x, y, 6.5), SIGNAL, tooltip)


def _diamond(x: float, y: float, size: float) -> str:
    corners = ((x, y - size), (x + size, y), (x, y + size), (x - size, y))
    return " ".join(f"{_n(cx)},{_n(cy)}" for cx, cy in corners)


def _legend(frame: _Frame) -> Markup:
    """Says what the diamonds mean, top right, above the plot."""
    x, y = frame.right - 140, frame.top - 10
    return Markup(
        '<g class="rc-legend"><polygon points="{0}" fill="{1}"/>'
        '<text x="{2}" y="{3}" dy="4">part of a shift or trend</text></g>'
    ).format(_diamond(x, y, 5), SIGNAL, _n(x + 9), _n(y))
