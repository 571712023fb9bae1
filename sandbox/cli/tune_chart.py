"""``run_local.py tune --chart FILE``: Power Tuning's chart drawn with Pillow (a dependency already), so it
works right after ``make run`` without matplotlib: Duration p50 (to p90) and cost per million against
memory, the three choices in the title. The notebooks draw the same with matplotlib (TuningResult.chart)."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sandbox.errors import SandboxError

WIDTH, HEIGHT = 960, 480
LEFT, RIGHT, TOP, BOTTOM = 90, 110, 110, 60  # margins: axes' labels, the title and legend above the plot
RED, BLUE, GREY, INK = (200, 40, 40), (30, 90, 200), (215, 215, 215), (30, 30, 30)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # a scalable font where Pillow has FreeType
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def _ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    raw = max(top, 1e-9) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(max(1, math.ceil(top / step)) + 1)]


def draw_chart(result) -> Image.Image:
    """The chart of a TuningResult as an RGB image."""
    sizes = [s for s in result.sizes if s.runs]
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    small, text = _font(13), _font(15)
    chosen = {"cheapest": result.cheapest, "fastest": result.fastest, "balanced": result.balanced}
    picks = ", ".join(f"{k} {v.memory_mb} MB" for k, v in chosen.items() if v) or "no size succeeded"
    draw.text((LEFT, 10), f"{result.function_name}: {result.event_summary}", fill=INK, font=text)
    draw.text((LEFT, 32), picks, fill=INK, font=text)
    _legend(draw, small)
    if not sizes:
        return image
    plot = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)
    time_ticks = _ticks(max(s.duration_p90_ms for s in sizes))
    cost_ticks = _ticks(max(s.cost_usd * 1_000_000 for s in sizes))
    x_of = {i: plot[0] + (i + 0.5) * (plot[2] - plot[0]) / len(sizes) for i in range(len(sizes))}

    def y(value, ticks):
        return plot[3] - value / ticks[-1] * (plot[3] - plot[1])

    for tick in time_ticks:
        draw.line((plot[0], y(tick, time_ticks), plot[2], y(tick, time_ticks)), fill=GREY)
        draw.text((plot[0] - 8, y(tick, time_ticks)), f"{tick:g}", fill=RED, font=small, anchor="rm")
    for tick in cost_ticks:
        draw.text((plot[2] + 8, y(tick, cost_ticks)), f"{tick:g}", fill=BLUE, font=small, anchor="lm")
    draw.rectangle(plot, outline=INK)
    draw.text((12, TOP - 22), "Duration (ms)", fill=RED, font=small)
    draw.text((WIDTH - RIGHT + 8, TOP - 22), "$ per million", fill=BLUE, font=small)
    draw.text(((plot[0] + plot[2]) / 2, HEIGHT - 18), "memory (MB)", fill=INK, font=small, anchor="mm")
    for i, size in enumerate(sizes):
        draw.text((x_of[i], plot[3] + 14), str(size.memory_mb), fill=INK, font=small, anchor="mm")
        draw.line(
            (x_of[i], y(size.duration_p50_ms, time_ticks), x_of[i], y(size.duration_p90_ms, time_ticks)),
            fill=(235, 160, 160),
            width=5,
        )
    _series(draw, [(x_of[i], y(s.duration_p50_ms, time_ticks)) for i, s in enumerate(sizes)], RED, "circle")
    _series(
        draw, [(x_of[i], y(s.cost_usd * 1_000_000, cost_ticks)) for i, s in enumerate(sizes)], BLUE, "square"
    )
    for i, size in enumerate(sizes):
        if not size.succeeded:
            draw.text((x_of[i] + 6, y(size.duration_p50_ms, time_ticks) - 16), "failed", fill=RED, font=small)
    return image


def _series(draw, points, color, marker) -> None:
    draw.line(points, fill=color, width=2)
    for x, y in points:
        box = (x - 5, y - 5, x + 5, y + 5)
        draw.ellipse(box, fill=color) if marker == "circle" else draw.rectangle(box, fill=color)


def _legend(draw, font) -> None:
    """Above the plot, clear of the data."""
    x, y = LEFT, 62
    for color, marker, label in (
        (RED, "circle", "Duration p50"),
        ((235, 160, 160), "bar", "... to p90"),
        (BLUE, "square", "$ per million invocations"),
    ):
        if marker == "bar":
            draw.line((x + 5, y - 6, x + 5, y + 6), fill=color, width=5)
        else:
            _series(draw, [(x, y), (x + 10, y)], color, marker)
        draw.text((x + 20, y), label, fill=INK, font=font, anchor="lm")
        x += 40 + int(draw.textlength(label, font=font))


def save_chart(result, path: str) -> None:
    """Write the chart to ``path``; the format follows its extension (.png, .jpg, .webp, ...)."""
    try:
        draw_chart(result).save(path)
    except (ValueError, OSError) as exc:  # an unknown extension, a folder that does not exist
        raise SandboxError(f"Cannot write the chart to {path}: {exc}") from None
    if not Path(path).is_file():
        raise SandboxError(f"Cannot write the chart to {path}.")
