"""Geometry for the pages' small charts, drawn as inline SVG by the templates: no JavaScript
and nothing from other hosts. Coordinates are in the SVG's own units (its viewBox); CSS scales
the picture to the column."""

from datetime import date, datetime

# The labels are HTML around the SVG, which stretches to its box (preserveAspectRatio="none"):
# the picture has a fixed height on every screen and its text never shrinks with it.
WIDTH = 600
HEIGHT = 120
LEFT = 0
BOTTOM = 1
TOP = 2


def bars(series: list[tuple[date, int]]) -> dict:
    """One bar per (day, count), scaled so the largest fills the height."""
    top = max((value for _, value in series), default=0)
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(len(series), 1)
    shapes = []
    for index, (day, value) in enumerate(series):
        height = round(plot_height * value / top, 1) if top else 0
        shapes.append(
            {
                "x": round(LEFT + index * slot + slot * 0.15, 1),
                "y": round(TOP + plot_height - height, 1),
                "width": round(slot * 0.7, 1),
                "height": height,
                "day": day,
                "value": value,
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "baseline": HEIGHT - BOTTOM,
        "label_y": HEIGHT - 5,
        "top_y": TOP + 10,
        "max": top,
        "total": sum(value for _, value in series),
        "bars": shapes,
        "first": series[0][0] if series else None,
        "last": series[-1][0] if series else None,
    }


def steps(timeline: list[tuple[datetime, int]], now: datetime) -> dict | None:
    """A step line of a running total over time: flat between events, up at each; from 0 at
    the first event to its last value at `now`. None without events."""
    if not timeline:
        return None
    start = timeline[0][0]
    span = max((now - start).total_seconds(), 1)
    top = max(value for _, value in timeline) or 1
    plot_width, plot_height = WIDTH - LEFT, HEIGHT - BOTTOM - TOP

    def x(moment: datetime) -> float:
        return round(LEFT + plot_width * (moment - start).total_seconds() / span, 1)

    def y(value: int) -> float:
        return round(TOP + plot_height * (1 - value / top), 1)

    points, previous = [(x(start), y(0))], 0
    for moment, value in timeline:
        points += [(x(moment), y(previous)), (x(moment), y(value))]
        previous = value
    points.append((x(now), y(previous)))
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "baseline": HEIGHT - BOTTOM,
        "label_y": HEIGHT - 5,
        "top_y": TOP + 10,
        "max": top,
        "points": " ".join(f"{px},{py}" for px, py in points),
        "area": " ".join(f"{px},{py}" for px, py in points)
        + f" {x(now)},{HEIGHT - BOTTOM} {LEFT},{HEIGHT - BOTTOM}",
        "first": start,
        "last": now,
        "steps": timeline,
    }
