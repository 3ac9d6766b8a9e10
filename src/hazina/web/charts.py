"""The Overview's 30-day chart as plain SVG geometry, rendered by the template: bars for each
day's successful volume, a line for its success rate. No script and no library: the page stays
under its CSP (`default-src 'self'`) and prints the same in any browser."""

from collections import Counter
from dataclasses import dataclass

from hazina.domain.money import format_money
from hazina.services.reporting.daily import DayFigures

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 72, 44, 12, 28
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
BASELINE = TOP + PLOT_HEIGHT


@dataclass(frozen=True, slots=True)
class Bar:
    figures: DayFigures
    volume: int  # minor units of the chart's currency
    x: float
    y: float
    width: float
    height: float
    rate_y: float | None  # where the day's success rate sits; None without payments
    title: str  # the hover text, and what a screen reader says


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    currency: str
    other_currencies: list[str]
    bars: list[Bar]
    rate_line: str  # SVG polyline points through the days that had payments
    volume_ticks: list[Tick]
    rate_ticks: list[Tick]
    day_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    plot_height: int = PLOT_HEIGHT
    baseline: int = BASELINE


def chart_currency(days: list[DayFigures], default: str) -> str:
    """The currency most of the window's successful volume was counted in (by days seen)."""
    seen = Counter(currency for day in days for currency in day.volume)
    return min(seen, key=lambda currency: (-seen[currency], currency)) if seen else default


def axis_top(largest: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at least `largest` (minor units): round
    labels on the gridlines."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= largest:
                return step * scale
        scale *= 10


def daily_chart(
    days: list[DayFigures], default_currency: str, currency: str | None = None
) -> Chart:
    """In `currency` when one is asked for, else the window's busiest one."""
    currency = currency or chart_currency(days, default_currency)
    top = axis_top(max((day.volume.get(currency, 0) for day in days), default=0) or 1)
    slot = PLOT_WIDTH / len(days)
    bars = []
    for n, day in enumerate(days):
        volume = day.volume.get(currency, 0)
        height = PLOT_HEIGHT * volume / top
        rate = day.success_rate
        bars.append(
            Bar(
                figures=day,
                volume=volume,
                x=round(LEFT + n * slot + slot * 0.15, 2),
                y=round(BASELINE - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                rate_y=None if rate is None else round(BASELINE - PLOT_HEIGHT * rate / 100, 2),
                title=_title(day, volume, currency),
            )
        )
    return Chart(
        currency=currency,
        other_currencies=sorted({c for day in days for c in day.volume} - {currency}),
        bars=bars,
        rate_line=" ".join(
            f"{bar.x + bar.width / 2:.2f},{bar.rate_y:.2f}"
            for bar in bars
            if bar.rate_y is not None
        ),
        volume_ticks=[
            Tick(
                BASELINE - PLOT_HEIGHT * halves / 2,
                format_money(top * halves // 2, currency, drop_zero_fraction=True),
            )
            for halves in (0, 1, 2)
        ],
        rate_ticks=[Tick(BASELINE - PLOT_HEIGHT * pct / 100, f"{pct}%") for pct in (0, 50, 100)],
        day_ticks=[
            Tick(round(LEFT + n * slot + slot / 2, 2), days[n].day.strftime("%d %b"))
            for n in range(0, len(days), 7)
        ],
    )


def _title(day: DayFigures, volume: int, currency: str) -> str:
    rate = "no payments" if day.success_rate is None else f"{day.success_rate}% succeeded"
    return (
        f"{day.day.isoformat()}: {format_money(volume, currency)} from "
        f"{day.successful} of {day.payments} payments ({rate})"
    )
