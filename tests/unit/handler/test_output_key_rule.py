"""The output key rule (image_resize.output_key_for): distinct source keys never share an output key.

Examples as the settings table in docs/handler.md gives them, a property-based proof over generated keys (any
prefix, any output format - OUTPUT_FORMAT=AUTO picks one per image - any extension case), and the
clash that used to happen, uploaded through a real sandbox.
"""

from __future__ import annotations

import io
import itertools

import image_resize as ir  # handler/ is on sys.path (pytest's pythonpath), as in Lambda
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from helpers import images as fx

SOURCE, DEST = "source-image-bucket123", "resized-image-bucket123"
FORMATS = tuple(ir.OUTPUT_FORMATS)  # JPEG, PNG, WEBP


def output_key(key: str, fmt: str = "JPEG", prefix: str = "resized-") -> str:
    _, extension, accepted = ir.OUTPUT_FORMATS[fmt]
    return ir.output_key_for(key, prefix, extension, accepted)


@pytest.mark.parametrize(
    "key, fmt, expected",
    [
        ("test.jpg", "JPEG", "resized-test.jpg"),  # the guide's case
        ("photos/a b.jpg", "JPEG", "resized-photos/a b.jpg"),
        ("IMG_0001.JPG", "JPEG", "resized-IMG_0001.JPG"),
        ("x.jpeg", "JPEG", "resized-x.jpeg"),
        ("hopper.png", "JPEG", "resized-hopper.png.jpg"),
        ("hopper.png", "PNG", "resized-hopper.png"),
        ("hopper.jpg", "PNG", "resized-hopper.jpg.png"),
        ("scan.tif", "JPEG", "resized-scan.tif.jpg"),
        ("scan.tiff", "JPEG", "resized-scan.tiff.jpg"),
        ("logo.gif", "JPEG", "resized-logo.gif.jpg"),
        ("test.jpg", "WEBP", "resized-test.jpg.webp"),
        ("photo", "JPEG", "resized-photo"),
        ("dir.v2/photo", "JPEG", "resized-dir.v2/photo"),
        (".hidden", "JPEG", "resized-.hidden"),
        ("café/été.gif", "JPEG", "resized-café/été.gif.jpg"),
        ("x.png.jpg", "JPEG", "resized-x.png.jpg.jpg"),  # x.png already owns resized-x.png.jpg
        ("x.png.JPG", "JPEG", "resized-x.png.JPG"),
        ("my.photo.jpg", "JPEG", "resized-my.photo.jpg"),  # '.photo' names no file type
        ("IMG.20240101", "JPEG", "resized-IMG.20240101"),
        ("notes.txt", "JPEG", "resized-notes.txt.jpg"),
    ],
)
def test_output_key_keeps_a_matching_extension_and_adds_the_bytes_extension_otherwise(key, fmt, expected):
    assert output_key(key, fmt) == expected


@pytest.mark.parametrize(
    "pair",
    [
        ("hopper.jpg", "hopper.png"),
        ("scan.tif", "scan.tiff"),
        ("logo.gif", "logo.png"),
        ("a.JPG", "a.jpg"),
        ("photo", "photo.jpg"),
        ("x.png", "x.png.jpg"),
        ("x", "x.jpg"),
        ("v2.0", "v2.0.jpg"),
        ("notes.txt", "notes.txt.jpg"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_pairs_the_issue_found_clashing_get_two_output_keys(pair, fmt):
    assert output_key(pair[0], fmt) != output_key(pair[1], fmt)


# Keys built from few, clash-prone parts: short stems, folders, and runs of extensions in any case,
# so that "x", "x.png", "x.png.jpg", "X.PNG.JPG" and the like meet often.
_EXTENSIONS = [
    ".jpg",
    ".jpeg",
    ".jpe",
    ".jfif",
    ".png",
    ".webp",
    ".gif",
    ".tif",
    ".tiff",
    ".bmp",
    ".txt",
    ".",
    ".x",
    ".0",
]
extension = st.sampled_from(_EXTENSIONS).flatmap(
    lambda ext: st.tuples(*[st.sampled_from((c.lower(), c.upper())) for c in ext]).map("".join)
)
segment = st.sampled_from(["x", "a b", "é", ".hidden", "", "v2.0"])
key_strategy = st.builds(
    lambda folders, stem, exts: "/".join([*folders, stem]) + "".join(exts),
    st.lists(segment, max_size=2),
    segment,
    st.lists(extension, max_size=3),
).filter(bool)
prefix_strategy = st.sampled_from(["resized-", "", "thumbs/", "a.jpg", "resized-x."]) | st.text(max_size=6)


# Families of keys: each generated key together with itself plus each output extension, so that the
# hard cases ("x" beside "x.jpg", "x.png" beside "x.png.jpg") are in every example.
families = st.lists(key_strategy, min_size=1, max_size=8).map(
    lambda keys: sorted({k + suffix for k in keys for suffix in ("", ".jpg", ".JPG", ".png", ".webp")})
)


@settings(max_examples=300, deadline=None)
@given(families, st.data(), prefix_strategy)
@example(["x.png", "x.png.jpg"], None, "resized-")
@example(["photo", "photo.jpg"], None, "resized-")
def test_distinct_source_keys_never_share_an_output_key(keys, data, prefix):
    """Injective over keys, whichever format each image is written in (AUTO decides per image)."""
    outputs = {}
    for key in keys:
        fmt = data.draw(st.sampled_from(FORMATS)) if data is not None else "JPEG"
        out = output_key(key, fmt, prefix)
        assert out not in outputs, f"{key!r} ({fmt}) and {outputs.get(out)!r} both give {out!r}"
        outputs[out] = key


@settings(max_examples=300, deadline=None)
@given(key_strategy, st.sampled_from(FORMATS), prefix_strategy)
def test_output_key_is_prefix_plus_source_key_and_its_extension_says_what_the_bytes_are(key, fmt, prefix):
    out = output_key(key, fmt, prefix)
    assert out.startswith(prefix + key)  # the source key stays readable in the output key
    _, written, accepted = ir.OUTPUT_FORMATS[fmt]
    added = out[len(prefix + key) :]
    assert added in ("", written)
    own = ir._extension(key)
    if own is None or own.lower() not in ir.TYPE_EXTENSIONS:
        assert added == ""  # no type extension to contradict the bytes, and none is made up
    else:
        assert ir._extension(out).lower() in accepted  # the extension of the output matches its bytes


def test_every_pair_of_a_small_key_universe_stays_apart_in_every_format_combination():
    """Exhaustive where the property test samples: every key of up to three parts."""
    parts = ["x", ".png", ".jpg", ".JPG", ".jpeg", ".tif", "/", ".webp", ".v2"]
    keys = {"".join(p) for n in range(1, 4) for p in itertools.product(parts, repeat=n)}
    for fmt_a, fmt_b in itertools.product(FORMATS, repeat=2):
        outputs_a = {output_key(k, fmt_a): k for k in keys}
        assert len(outputs_a) == len(keys)
        for k in keys:
            other = outputs_a.get(output_key(k, fmt_b))
            assert other in (None, k), f"{k!r} as {fmt_b} meets {other!r} as {fmt_a}"


# ------------------------------------------------------------------------------ through a real sandbox


def _png(colour) -> bytes:
    return fx.encode(Image.new("RGB", (40, 30), colour), "PNG")


@pytest.mark.slow
def test_a_clashing_pair_uploaded_through_the_sandbox_gives_two_outputs(sandbox):
    uploads = {
        "clash/hopper.jpg": fx.encode(Image.new("RGB", (40, 30), (200, 30, 30)), "JPEG"),
        "clash/hopper.png": _png((30, 30, 200)),
        "clash/scan.tif": fx.encode(Image.new("RGB", (40, 30), (30, 200, 30)), "TIFF"),
        "clash/scan.tiff": fx.encode(Image.new("RGB", (40, 30), (200, 200, 30)), "TIFF"),
    }
    for key, body in uploads.items():
        sandbox.s3.put_object(Bucket=SOURCE, Key=key, Body=body)
    for key in uploads:
        record = sandbox.wait_for_key(key, timeout=60)
        assert record is not None and record.status == "success", record and record.result
    listed = sandbox.s3.list_objects_v2(Bucket=DEST, Prefix="resized-clash/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        "resized-clash/hopper.jpg",
        "resized-clash/hopper.png.jpg",
        "resized-clash/scan.tif.jpg",
        "resized-clash/scan.tiff.jpg",
    ]
    # each output is its own source's, resized: the colours did not overwrite one another
    for key, colour in [
        ("hopper.jpg", (200, 30, 30)),
        ("hopper.png.jpg", (30, 30, 200)),
        ("scan.tif.jpg", (30, 200, 30)),
        ("scan.tiff.jpg", (200, 200, 30)),
    ]:
        body = sandbox.s3.get_object(Bucket=DEST, Key=f"resized-clash/{key}")["Body"].read()
        with Image.open(io.BytesIO(body)) as out:
            assert out.format == "JPEG" and out.size == (20, 15)
            assert all(abs(a - b) < 12 for a, b in zip(out.convert("RGB").getpixel((10, 7)), colour)), key
