"""Plumbing shared by the notebooks: finding the project, making a stand-in photo, measuring a
process's peak memory, and laying out tables and 100 % crops.

The experiments themselves (decoding, resizing, encoding, SSIM/PSNR) stay in the notebooks' cells,
where a learner can read and change them. This module is imported from the notebooks' folder
(Jupyter starts the kernel with notebooks/ as its working directory).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from PIL import Image, ImageDraw, ImageFont


def find_repo(start: Path | None = None) -> Path:
    """The project root: the first folder at or above ``start`` (default: the working directory)
    that holds handler/image_resize.py and sandbox/."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "handler" / "image_resize.py").is_file() and (folder / "sandbox").is_dir():
            return folder
    raise RuntimeError(f"The project (handler/ and sandbox/) was not found at or above {start}; "
                       "open the notebooks from the project's notebooks/ folder (make notebook).")


def realworld_corpus(repo: Path) -> Path | None:
    """../shared/testdata/realworld next to the project, or None when it is not on this machine."""
    folder = repo.parent / "shared" / "testdata" / "realworld"
    return folder if folder.is_dir() else None


def make_photo_like_jpeg(path: Path, width: int = 5760, height: int = 3840, seed: int = 22,
                         quality: int = 90) -> Path:
    """Write a photo-like JPEG (smooth colour regions plus sensor-like noise) of ``width x height``.

    A stand-in for the 22 MP camera photo of the real-world corpus when that folder is absent: what
    matters for memory is the decoded size (width x height x 4 bytes in Pillow), not the content."""
    import numpy as np

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(height // 160, width // 160, 3), dtype=np.uint8)
    base = Image.fromarray(small, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    photo = Image.blend(base, noise, 0.12)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    photo.save(path, "JPEG", quality=quality)
    return path


# The child process reports its peak resident set size. On Linux VmHWM belongs to the process's own
# address space; ru_maxrss could carry the parent's peak across fork+exec, so it is only the fallback
# (macOS reports it in bytes, Linux in KiB). Windows has psutil's peak_wset.
_PEAK_PROBE = r'''
import json, sys
def peak_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource
        value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return value / 2**20 if sys.platform == "darwin" else value / 1024
    except ImportError:
        import psutil
        return psutil.Process().memory_info().peak_wset / 2**20
'''


def peak_rss_mb(setup: str, statement: str, sys_path: Iterable[Path | str] = (),
                python: str | None = None, timeout: float = 120) -> dict:
    """Run ``setup`` then ``statement`` in a fresh Python process and return its peak RSS in MB:
    ``{"baseline_mb": after setup, "peak_mb": after statement, "extra_mb": the difference}``.

    A fresh process, because a process's peak only ever grows: in the notebook's own kernel the first
    experiment would hide every later one. ``setup`` is where imports and reading the file go, so
    ``extra_mb`` is what the statement itself needed - decoding, resizing and encoding."""
    script = "\n".join([
        "import sys",
        f"sys.path[:0] = {[str(p) for p in sys_path]!r}",
        _PEAK_PROBE,
        textwrap.dedent(setup),
        "_baseline = peak_mb()",
        textwrap.dedent(statement),
        "print(json.dumps({'baseline_mb': _baseline, 'peak_mb': peak_mb()}))",
    ])
    done = subprocess.run([python or sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise RuntimeError(f"The measuring process failed: {done.stderr.strip().splitlines()[-1:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["extra_mb"] = result["peak_mb"] - result["baseline_mb"]
    return result


def markdown_table(rows: Sequence[Mapping], columns: Mapping[str, str]) -> str:
    """A Markdown table of ``rows`` (dicts); ``columns`` maps a key to a format such as "{:.3f}"."""
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join(" --- " for _ in columns) + "|"
    body = []
    for row in rows:
        cells = []
        for key, fmt in columns.items():
            value = row.get(key)
            cells.append("—" if value is None else fmt.format(value))
        body.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *body])


def crops_side_by_side(images: Mapping[str, Image.Image], box: tuple[int, int, int, int],
                       gap: int = 8, label_height: int = 18, zoom: int = 1) -> Image.Image:
    """The same ``box`` cut from each image, placed side by side at 100 % (one image pixel = one
    screen pixel), or ``zoom`` times larger with each pixel kept square (NEAREST), each with its label
    above it. Display the result as it is: no scaling."""
    width, height = (box[2] - box[0]) * zoom, (box[3] - box[1]) * zoom
    sheet = Image.new("RGB", (len(images) * (width + gap) - gap, height + label_height), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for index, (label, image) in enumerate(images.items()):
        x = index * (width + gap)
        crop = image.convert("RGB").crop(box)
        sheet.paste(crop.resize((width, height), Image.Resampling.NEAREST), (x, label_height))
        draw.text((x + 2, 2), label, fill="black", font=font)
    return sheet
