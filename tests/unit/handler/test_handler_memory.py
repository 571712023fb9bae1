"""The handler's memory check: what decoders hold is counted, the estimate covers what a worker really
uses, and images that would not fit are refused before decoding with the memory size to choose.

The measured side is a fresh process that initialises as a Lambda worker does (boto3, then
lambda_function's INIT) and resizes one image; its peak resident memory (VmHWM) is what Lambda and
the sandbox report as Max Memory Used. Linux only (/proc). ``run_local.py bench --only image`` prints
the same comparison for every file of the real-world corpus.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import image_resize as ir  # handler/ is on sys.path (pytest's pythonpath), as in Lambda
import memory_budget
import pytest
from image_resize import CorruptImage, ImageTooLarge, ResizeSettings, resize_image
from PIL import Image, ImageFilter

from helpers import images as fx

HANDLER_DIR = Path(ir.__file__).resolve().parent
linux_only = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")


def jpeg_cut_after_first_scan_header(width: int, height: int, **save) -> bytes:
    """A JPEG that stops after its first scan header, declaring ``width x height``: the memory check
    can read everything it needs, while decoding would fail - so a refusal proves it came first."""
    full = fx.encode(Image.new("RGB", (16, 16), "grey"), "JPEG", **save)
    sos = full.index(b"\xff\xda")
    head = bytearray(full[: sos + 2 + struct.unpack(">H", full[sos + 2 : sos + 4])[0]])
    sof = next(i for i in range(2, sos) if head[i] == 0xFF and head[i + 1] in (0xC0, 0xC1, 0xC2))
    head[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(head)


# ------------------------------------------------------------------------------ reading the headers


def test_progressive_and_baseline_jpegs_are_told_apart_from_their_headers():
    progressive = memory_budget._jpeg_layout(
        jpeg_cut_after_first_scan_header(4800, 3600, progressive=True, subsampling=0)
    )
    baseline = memory_budget._jpeg_layout(jpeg_cut_after_first_scan_header(4800, 3600, subsampling=0))
    assert (progressive.width, progressive.height, progressive.sampling) == (4800, 3600, ((1, 1),) * 3)
    assert progressive.full_buffer and not baseline.full_buffer


def test_a_sequential_jpeg_whose_first_scan_lacks_components_is_multi_scan():
    head = bytearray(jpeg_cut_after_first_scan_header(4800, 3600, subsampling=0))
    sos = head.index(b"\xff\xda")
    head[sos + 4] = 1  # the first scan carries one component of three: libjpeg buffers the whole image
    assert memory_budget._jpeg_layout(bytes(head)).full_buffer


@pytest.mark.parametrize(
    "subsampling, sampling, expected",
    [
        (0, ((1, 1), (1, 1), (1, 1)), 3 * 600 * 450 * 128),  # 4:4:4: every component at full size
        (2, ((2, 2), (1, 1), (1, 1)), (600 * 450 + 2 * 300 * 225) * 128),  # 4:2:0: chroma at a quarter
    ],
)
def test_coefficient_buffer_follows_components_and_sampling_factors(subsampling, sampling, expected):
    layout = memory_budget._jpeg_layout(
        jpeg_cut_after_first_scan_header(4800, 3600, progressive=True, subsampling=subsampling)
    )
    assert layout.sampling == sampling
    assert layout.coefficient_bytes() == expected


# --------------------------------------------------------------------------------- refusing up front


def test_progressive_jpeg_whose_coefficients_do_not_fit_128_mb_is_refused_before_decoding():
    data = jpeg_cut_after_first_scan_header(4800, 3600, progressive=True, subsampling=0)
    with pytest.raises(
        ImageTooLarge,
        match=r"4800x3600 progressive JPEG needs about \d+ MB .* "
        r"memory size to at least 192 MB",
    ):
        resize_image(data, ResizeSettings(memory_size_mb=128))
    # with the memory it names, it passes the check and reaches the decoder (which finds no data)
    with pytest.raises(CorruptImage):
        resize_image(data, ResizeSettings(memory_size_mb=192))


def test_the_same_size_as_a_baseline_jpeg_passes_the_check_at_128_mb():
    with pytest.raises(CorruptImage):  # past the memory check, into the decoder
        resize_image(
            jpeg_cut_after_first_scan_header(4800, 3600, subsampling=0), ResizeSettings(memory_size_mb=128)
        )


def test_what_the_process_already_holds_counts_against_the_memory_size():
    data = fx.encode(fx.card_image(400, 300), "PNG")
    resize_image(data, ResizeSettings(memory_size_mb=128), bytes_in_use=60 * ir.MIB)
    with pytest.raises(ImageTooLarge, match="needs about 1[23]\\d MB but the function has 128 MB"):
        resize_image(data, ResizeSettings(memory_size_mb=128), bytes_in_use=127 * ir.MIB)


# ----------------------------------------------------------------------- estimate against measurement

_WORKER = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
import boto3
import lambda_function  # INIT, as in an execution environment: settings, S3 client, plugins, allocator
from image_resize import memory_in_use
data = open(sys.argv[2], "rb").read()
result = lambda_function.resize_image(data, lambda_function.SETTINGS.resize, bytes_in_use=memory_in_use())
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"estimate": result.estimated_peak_bytes, "peak": peak, "format": result.format}))
"""


def run_worker(path: Path, **env) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OUTPUT_", "RESIZE_", "MAX_"))}
    environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="10240", **env)
    out = subprocess.run(
        [sys.executable, "-c", _WORKER, str(HANDLER_DIR), str(path)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def photo(width=2000, height=1500) -> Image.Image:
    """Smooth colour and grain: compresses like a photo, and no encoder can shortcut it."""
    base = Image.radial_gradient("L").resize((width, height))
    colour = Image.merge(
        "RGB",
        (
            base,
            base.transpose(Image.Transpose.ROTATE_180),
            Image.linear_gradient("L").resize((width, height)),
        ),
    )
    grain = Image.effect_noise((width, height), 40).convert("RGB")
    return Image.blend(colour, grain, 0.3).filter(ImageFilter.SMOOTH)


def interlaced_png(im: Image.Image) -> bytes:
    """Pillow cannot write Adam7; this writes the seven passes itself (filter 0)."""
    width, height = im.size
    raw = im.convert("RGB").tobytes()
    scanlines = bytearray()
    for x0, y0, dx, dy in (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ):
        for y in range(y0, height, dy):
            row = raw[y * width * 3 : (y + 1) * width * 3]
            pixels = b"".join(row[x * 3 : x * 3 + 3] for x in range(x0, width, dx))
            if pixels:
                scanlines += b"\0" + pixels

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1))
        + chunk(b"IDAT", zlib.compress(bytes(scanlines), 1))
        + chunk(b"IEND", b"")
    )


def rle8_bmp(im: Image.Image) -> bytes:
    """An 8-bit run-length-encoded BMP (Pillow reads RLE but does not write it)."""
    pal = im.convert("P")
    width, height = pal.size
    pixels = pal.tobytes()
    body = bytearray()
    for y in range(height - 1, -1, -1):
        row, x = pixels[y * width : (y + 1) * width], 0
        while x < width:
            n = 1
            while x + n < width and n < 255 and row[x + n] == row[x]:
                n += 1
            body += bytes((n, row[x]))
            x += n
        body += b"\x00\x00"
    body += b"\x00\x01"
    palette = (pal.getpalette() + [0] * 768)[:768]
    colours = b"".join(bytes((palette[3 * i + 2], palette[3 * i + 1], palette[3 * i], 0)) for i in range(256))
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(body), 2835, 2835, 256, 0)
    offset = 14 + 40 + 1024
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + colours + bytes(body)


def _with_alpha(im: Image.Image) -> Image.Image:
    rgba = im.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(im.size))
    return rgba


def _grey16(im: Image.Image) -> Image.Image:
    return im.convert("L").convert("I").point(lambda v: v * 257).convert("I;16")


# name -> (bytes of a 2000x1500 image, the function's environment)
CASES = {
    "progressive 4:4:4 JPEG": (
        lambda im: fx.encode(im, "JPEG", quality=90, progressive=True, subsampling=0),
        {},
    ),
    "progressive CMYK JPEG": (lambda im: fx.encode(im.convert("CMYK"), "JPEG", progressive=True), {}),
    "interlaced PNG": (interlaced_png, {}),
    "16-bit grey PNG": (lambda im: fx.encode(_grey16(im), "PNG"), {}),
    "RGBA PNG kept as WebP": (lambda im: fx.encode(_with_alpha(im), "PNG"), {"OUTPUT_FORMAT": "WEBP"}),
    # the encoder's least effort (0.2 s instead of 5 s): a lossless WebP decodes into the same buffers
    "lossless RGBA WebP": (
        lambda im: fx.encode(_with_alpha(im), "WEBP", lossless=True, method=0, quality=0),
        {},
    ),
    "lossy WebP kept as WebP": (lambda im: fx.encode(im, "WEBP", quality=80), {"OUTPUT_FORMAT": "AUTO"}),
    "GIF with transparency": (lambda im: fx.encode(im.convert("P"), "GIF", transparency=0), {}),
    "single-strip LZW TIFF": (lambda im: fx.encode(im, "TIFF", compression="tiff_lzw", strip_size=2**30), {}),
    "16-bit TIFF": (lambda im: fx.encode(_grey16(im), "TIFF", compression="tiff_adobe_deflate"), {}),
    "RLE BMP": (rle8_bmp, {}),
}


@linux_only
@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_estimate_covers_the_peak_a_fresh_worker_measures_without_refusing_what_fits(case, tmp_path):
    make, env = CASES[case]
    path = tmp_path / "image"
    path.write_bytes(make(photo()))
    measured = run_worker(path, **env)
    estimate, peak = measured["estimate"], measured["peak"]
    assert estimate >= peak, f"{case}: estimate {estimate / ir.MIB:.1f} MB, peak {peak / ir.MIB:.1f} MB"
    assert estimate <= 1.2 * peak, f"{case}: estimate {estimate / ir.MIB:.1f} MB, peak {peak / ir.MIB:.1f} MB"


_WARM = r"""
import sys
sys.path.insert(0, sys.argv[1])
import boto3
import lambda_function
from image_resize import memory_in_use
data = open(sys.argv[2], "rb").read()
lambda_function.resize_image(data, lambda_function.SETTINGS.resize)  # first image: the first-use costs
before = memory_in_use()
for _ in range(3):
    lambda_function.resize_image(data, lambda_function.SETTINGS.resize)
print(before, memory_in_use())
"""


@linux_only
@pytest.mark.slow
def test_a_warm_worker_gives_an_images_memory_back_before_the_next_one(tmp_path):
    """Otherwise glibc keeps tens of MB of freed buffers, and the next image in a warm execution
    environment starts from more than a fresh one does."""
    path = tmp_path / "photo.png"
    path.write_bytes(fx.encode(photo(), "PNG", compress_level=1))
    environ = dict(os.environ, AWS_DEFAULT_REGION="us-east-1", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="10240")
    out = subprocess.run(
        [sys.executable, "-c", _WARM, str(HANDLER_DIR), str(path)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = (int(v) for v in out.stdout.split())
    assert after - before < 4 * ir.MIB, f"{(after - before) / ir.MIB:.1f} MB stayed resident"


def test_releasing_freed_memory_is_a_no_op_where_glibc_is_absent(monkeypatch):
    class NoMallopt:
        def __init__(self, _name):
            pass

    monkeypatch.setattr(memory_budget.ctypes, "CDLL", NoMallopt)
    assert memory_budget.release_freed_memory_promptly() is False


def test_the_benchs_memory_summary_reports_under_estimates_and_would_be_kills_at_128_mb():
    """run_local.py bench --only image: its verdict is only as good as this counting."""
    from sandbox.tools.bench.image_step import _memory_summary  # noqa: PLC0415

    rows = [
        {"file": f, "estimate_mb": e, "measured_mb": m, "ratio": e / m}
        for f, e, m in [("fits.jpg", 60, 58), ("refused.jpg", 171, 168), ("missed.webp", 120, 131)]
    ]
    summary = _memory_summary(rows, others=2, memory_mb=1024)
    assert summary["under_estimates"] == 1 and summary["lowest_ratio"]["file"] == "missed.webp"
    assert summary["highest_ratio"]["file"] == "fits.jpg"
    assert summary["refused_at_default"] == ["refused.jpg"]
    assert summary["killed_at_default"] == ["missed.webp"]
    assert (summary["decodable"], summary["not_decodable"], summary["within_goal"]) == (3, 2, 2)
