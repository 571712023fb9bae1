"""Every file of the real-world corpus (../shared/testdata/realworld) through the pure image step.

For each file: either a valid output (opens, the right size, upright) or a typed ImageRejected with a
one-sentence message - never an unhandled exception. Skipped when the corpus is absent.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from image_resize import (  # handler/ is on sys.path (pytest's pythonpath), as in Lambda
    CorruptImage,
    ImageRejected,
    ImageTooLarge,
    NotAnImage,
    ResizeSettings,
    UnsupportedFormat,
    resize_image,
    target_size,
)
from PIL import Image, ImageChops, ImageOps, ImageStat

from helpers.paths import REALWORLD

CORPUS = REALWORLD
FILES = (
    sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() != ".md")
    if CORPUS.is_dir()
    else []
)

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not FILES, reason=f"real-world corpus not present at {CORPUS}"),
]

# What SOURCES.md says these files are; the step must reject them with the matching type.
EXPECTED_REJECTION = {
    "big-png/spark.png": ImageTooLarge,
    "sharp/65536-uint32-limit.png": ImageTooLarge,
    "sharp/giant-image.jpg": ImageTooLarge,
    "pillow/decompression_bomb.gif": ImageTooLarge,
    "pillow/bmp/b/reallybig.bmp": ImageTooLarge,
    "pillow/png_decompression_dos.png": ImageTooLarge,
    "pillow/decompression_bomb.ico": UnsupportedFormat,  # ICO is not on the allow-list at all
    "carrierwave/test.jpg": NotAnImage,
    "carrierwave/zip.png": NotAnImage,
    "carrierwave/spoof.png": NotAnImage,
    "fastimage/truncated_gzipped.jpg": NotAnImage,
    "piexif/notjpeg.jpg": NotAnImage,
    "image-size/valid/heif/sample.heic": UnsupportedFormat,
    "image-size/valid/heif/sample.avif": UnsupportedFormat,
    "libjpeg-turbo/monkey12.jpg": UnsupportedFormat,
    "pillow/bmp/q/rgb24jpeg.bmp": UnsupportedFormat,
    "fastimage/man.ico": UnsupportedFormat,
    "metadata-extractor-images/jpg/User Comment Encoding.jpg": CorruptImage,
    "image_processing/invalid.jpg": CorruptImage,
    "pillow/truncated_image.png": CorruptImage,
    "pillow/truncated_jpeg.jpg": CorruptImage,
    "fastimage/test2.bmp": CorruptImage,
    "pillow/bmp/b/shortfile.bmp": CorruptImage,
    "pngsuite/xdtn0g01.png": CorruptImage,
    "sharp/corrupt-header.jpg": CorruptImage,
}


def rel(path) -> str:
    return path.relative_to(CORPUS).as_posix()


def upright_size(data: bytes) -> tuple[int, int]:
    """Reference: what Pillow's own exif_transpose makes of the file (independent of our code path)."""
    with Image.open(io.BytesIO(data)) as im:
        return ImageOps.exif_transpose(im).size


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # from the reference exif_transpose, not ours
@pytest.mark.parametrize("path", FILES, ids=[rel(p) for p in FILES])
def test_every_corpus_file_gives_a_valid_output_or_a_typed_rejection(path):
    data = path.read_bytes()
    settings = ResizeSettings()
    try:
        result = resize_image(data, settings)
    except ImageRejected as rejected:
        message = str(rejected)
        assert message and "\n" not in message and message.endswith("."), message
        expected = EXPECTED_REJECTION.get(rel(path))
        if expected is not None:
            assert isinstance(rejected, expected), f"{type(rejected).__name__}: {message}"
        if isinstance(rejected, ImageTooLarge) and "memory size" in message:
            assert "MB" in message
        return
    assert rel(path) not in EXPECTED_REJECTION, f"expected {EXPECTED_REJECTION[rel(path)].__name__}"
    out = Image.open(io.BytesIO(result.data))
    out.load()
    assert out.format == result.format == "JPEG" and result.content_type == "image/jpeg"
    assert out.size == (result.width, result.height) == target_size(*upright_size(data), settings)
    assert not out.getexif(), "EXIF must not be copied"


def _resized(name: str) -> Image.Image:
    result = resize_image((CORPUS / name).read_bytes())
    return Image.open(io.BytesIO(result.data)).convert("RGB")


@pytest.mark.parametrize("shape", ["Landscape", "Portrait"])
@pytest.mark.parametrize("orientation", range(0, 9))
def test_recurser_orientation_examples_come_out_upright(shape, orientation):
    """Landscape_N / Portrait_N are one photo stored in the 8 EXIF ways; all must match _1 (upright)."""
    folder = "recurser-exif-orientation-examples"
    reference = _resized(f"{folder}/{shape}_1.jpg")
    out = _resized(f"{folder}/{shape}_{orientation}.jpg")
    assert out.size == reference.size
    assert (out.width > out.height) == (shape == "Landscape")
    difference = max(ImageStat.Stat(ImageChops.difference(out, reference)).mean)
    assert difference < 8, f"{shape}_{orientation} differs from the upright photo by {difference:.1f}"


@pytest.mark.parametrize("orientation", range(2, 9))
def test_goexif_letter_f_samples_come_out_upright(orientation):
    reference = _resized("goexif/f1-exif.jpg")
    out = _resized(f"goexif/f{orientation}-exif.jpg")
    assert out.size == reference.size == (20, 40)
    difference = max(ImageStat.Stat(ImageChops.difference(out, reference)).mean)
    assert difference < 12, f"f{orientation} differs from the upright F by {difference:.1f}"


def test_cmyk_jpeg_with_its_own_profile_is_converted_through_it():
    name = "metadata-extractor-images/jpg/Multiple ICC segments.jpg"
    data = (CORPUS / name).read_bytes()
    ours = Image.open(io.BytesIO(resize_image(data).data)).convert("RGB")
    plain = Image.open(io.BytesIO(data)).convert("RGB").resize(ours.size, Image.Resampling.LANCZOS)
    # the embedded CMYK profile changes the colours compared with Pillow's naive CMYK->RGB formula
    assert max(ImageStat.Stat(ImageChops.difference(ours, plain)).mean) > 3


def test_large_webp_is_refused_at_128_mb_with_the_memory_size_to_choose_and_fits_with_it():
    data = (CORPUS / "metadata-extractor-images/webp/Nikon Coolpix P7000.webp").read_bytes()
    with pytest.raises(ImageTooLarge, match=r"memory size to at least (\d+) MB") as refused:
        resize_image(data, ResizeSettings(memory_size_mb=128))
    suggested = int(str(refused.value).split("at least ")[1].split(" MB")[0])
    result = resize_image(data, ResizeSettings(memory_size_mb=suggested))
    assert (result.width, result.height) == (1368, 1824)  # 3648x2736, orientation 6, halved


def test_the_22_megapixel_photo_fits_128_mb():
    result = resize_image(
        (CORPUS / "metadata-extractor-images/jpg/Issue 266.jpg").read_bytes(),
        ResizeSettings(memory_size_mb=128),
    )
    assert (result.width, result.height) == (2880, 1920)
    assert (result.decoded_width, result.decoded_height) == (2880, 1920)  # libjpeg decoded at 1/2


def test_the_progressive_jpeg_that_was_killed_at_128_mb_is_refused_naming_the_memory_that_fits_it():
    data = (CORPUS / "image-size/valid/jpg/very-large.jpg").read_bytes()  # 4800x3600, 4:4:4, 224 KB
    with pytest.raises(
        ImageTooLarge, match=r"progressive JPEG needs about \d+ MB .* at least (\d+) MB"
    ) as refused:
        resize_image(data, ResizeSettings(memory_size_mb=128))
    suggested = int(str(refused.value).split("at least ")[1].split(" MB")[0])
    result = resize_image(data, ResizeSettings(memory_size_mb=suggested))
    assert (result.width, result.height) == (2400, 1800)


# --------------------------------------------------------------------- the corpus through a sandbox


@pytest.mark.slow
def test_the_corpus_uploaded_at_128_mb_is_resized_or_refused_up_front_with_no_oom_and_no_shared_output():
    """The issue's acceptance: every file uploaded through a running sandbox at the defaults (128 MB).
    Each decodable file is resized, or refused before decoding with the memory size to choose; no
    invocation runs out of memory; no two outputs share a key (the corpus has groups such as
    pillow/hopper.bmp, .gif and .webp, which all became resized-pillow/hopper.jpg)."""
    from helpers.sandboxes import start_sandbox

    # Decodable: what the step resizes when memory is no object.
    decodable = set()
    for path in FILES:
        try:
            resize_image(path.read_bytes(), ResizeSettings(memory_size_mb=10_240))
            decodable.add(rel(path))
        except ImageRejected:
            pass
    assert len(decodable) >= 140

    sb = start_sandbox(memory_size=128, timeout=30)
    try:
        for path in FILES:
            sb.s3.put_object(Bucket="source-image-bucket123", Key=rel(path), Body=path.read_bytes())
        results = {}
        for path in FILES:
            record = sb.wait_for_key(rel(path), timeout=120)
            assert record is not None, f"{rel(path)}: no invocation"
            assert record.status == "success" and record.attempt == 1, (
                f"{rel(path)}: {record.status} {record.error_type} {record.error_message}"
            )
            assert record.max_memory_used_mb <= 128
            results[rel(path)] = json.loads(record.result["body"])["results"][0]
        listed = [
            o["Key"]
            for page in sb.s3.get_paginator("list_objects_v2").paginate(Bucket="resized-image-bucket123")
            for o in page.get("Contents", [])
        ]
    finally:
        sb.stop()

    refused_for_memory = {}
    for key in decodable:
        result = results[key]
        if result["status"] == "resized":
            continue
        assert result["status"] == "rejected" and result["kind"] == "too-large", f"{key}: {result}"
        needed = re.search(r"needs about (\d+) MB .* memory size to at least (\d+) MB", result["reason"])
        assert needed and int(needed.group(1)) > 128 and int(needed.group(2)) >= int(needed.group(1)), result
        refused_for_memory[key] = int(needed.group(2))
    # the two the issue saw: one killed, one refused; both now refused up front
    assert set(refused_for_memory) == {
        "image-size/valid/jpg/very-large.jpg",
        "metadata-extractor-images/webp/Nikon Coolpix P7000.webp",
    }
    resized = [r["outputKey"] for r in results.values() if r["status"] == "resized"]
    assert len(resized) == len(decodable) - len(refused_for_memory)
    assert len(set(resized)) == len(resized) and sorted(listed) == sorted(resized)
    # the corpus's clashing groups, each file now with its own output
    assert {
        "resized-pillow/hopper.bmp.jpg",
        "resized-pillow/hopper.gif.jpg",
        "resized-pillow/hopper.webp.jpg",
        "resized-pillow/iss634.gif.jpg",
        "resized-pillow/iss634.webp.jpg",
    } <= set(listed)
