"""Small image fixtures, generated at test time (nothing binary is committed).

``handler/`` is on ``sys.path`` under pytest (``pythonpath`` in pyproject.toml), the way Lambda puts the
function's folder there, so tests import ``image_resize`` and ``lambda_function`` as top-level modules
exactly as the deployed zip does.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

from PIL import Image, ImageCms, ImageDraw

from sandbox.tools.bench.image_step import photo_like  # noqa: F401 - one generator for tests and bench

# A recognisable, asymmetric test card: a red block in the top-left corner, a blue block in the
# top-right one, and green along the bottom, on grey. After any EXIF transform is applied the
# corners must be in these places again.
RED, BLUE, GREEN, GREY = (220, 30, 30), (30, 30, 220), (30, 200, 30), (128, 128, 128)


def card_image(width: int = 64, height: int = 48, mode: str = "RGB") -> Image.Image:
    im = Image.new("RGB", (width, height), GREY)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, width // 3 - 1, height // 3 - 1), fill=RED)
    draw.rectangle((width - width // 3, 0, width - 1, height // 3 - 1), fill=BLUE)
    draw.rectangle((0, height - height // 4, width - 1, height - 1), fill=GREEN)
    return im if mode == "RGB" else im.convert(mode)


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


# EXIF orientation -> the transpose that *stores* an upright card so that a viewer applying the
# tag shows it upright again (the inverse of what the viewer does).
_STORE_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def oriented_jpeg(orientation: int, width: int = 64, height: int = 48, fmt: str = "JPEG") -> bytes:
    """An upright ``width x height`` card, stored transformed with EXIF Orientation=orientation."""
    card = card_image(width, height)
    method = _STORE_FOR_ORIENTATION[orientation]
    stored = card.transpose(method) if method is not None else card
    exif = Image.Exif()
    exif[0x0112] = orientation
    params = {"quality": 95} if fmt == "JPEG" else {}
    return encode(stored, fmt, exif=exif.tobytes(), **params)


def jpeg_with_gps_and_xmp(width: int = 40, height: int = 30) -> bytes:
    """A JPEG carrying camera EXIF with a GPS position, an XMP packet and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "FixtureCam"  # Make
    exif[0x0110] = "Model 1"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 0.0)
    gps[3] = "W"
    gps[4] = (0.0, 7.0, 0.0)
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.0N"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    return encode(card_image(width, height), "JPEG", exif=exif.tobytes(), xmp=xmp, comment=b"secret place")


@functools.cache
def srgb_icc() -> bytes:
    """An sRGB profile (cached: LittleCMS stamps the creation time into it)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def png_header_only(width: int, height: int, colour_type: int = 6, bit_depth: int = 8) -> bytes:
    """A PNG with a valid IHDR declaring ``width x height`` and no pixel data at all: anything that
    tried to decode it would fail, so a clean size refusal proves the check ran from the header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def jpeg_header_only(width: int, height: int) -> bytes:
    """The first bytes of a baseline JPEG declaring ``width x height`` (a real JPEG cut after its
    headers): Pillow opens it, but decoding would fail."""
    full = encode(Image.new("RGB", (16, 16), GREY), "JPEG")
    sos = full.index(b"\xff\xda")
    head = bytearray(full[: sos + 2 + struct.unpack(">H", full[sos + 2 : sos + 4])[0]])
    sof = head.index(b"\xff\xc0")
    head[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(head)


def every_mode_samples() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, what it exercises). Covers every mode the issue lists."""
    card = card_image(33, 21)  # odd sizes: halves round up, never to 0
    samples: dict[str, tuple[bytes, str]] = {}
    samples["rgb.jpg"] = (encode(card, "JPEG"), "RGB JPEG")
    samples["grey.jpg"] = (encode(card.convert("L"), "JPEG"), "L JPEG")
    samples["cmyk.jpg"] = (encode(card.convert("CMYK"), "JPEG"), "CMYK JPEG (Adobe, inverted)")
    samples["rgb.png"] = (encode(card, "PNG"), "RGB PNG")
    rgba = card.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(card.size))
    samples["rgba.png"] = (encode(rgba, "PNG"), "RGBA PNG")
    samples["la.png"] = (encode(rgba.convert("LA"), "PNG"), "LA PNG")
    pal = card.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    samples["p.png"] = (encode(pal, "PNG"), "P PNG")
    samples["p_trns.png"] = (encode(pal, "PNG", transparency=0), "P PNG with tRNS")
    samples["p_trns.gif"] = (encode(pal, "GIF", transparency=0), "P GIF with transparency")
    samples["one_bit.png"] = (encode(card.convert("1"), "PNG"), "1-bit PNG")
    samples["one_bit.tiff"] = (encode(card.convert("1"), "TIFF", compression="group4"), "1-bit G4 TIFF")
    i16 = card.convert("L").point(lambda v: v * 257, "I").convert("I;16")
    samples["grey16.png"] = (encode(i16, "PNG"), "16-bit grey PNG (I;16)")
    samples["grey16.tiff"] = (encode(i16, "TIFF"), "16-bit grey TIFF (I;16)")
    samples["int32.tiff"] = (
        encode(card.convert("L").convert("I").point(lambda v: v * 1000), "TIFF"),
        "32-bit integer TIFF (I)",
    )
    samples["float.tiff"] = (
        encode(card.convert("L").convert("F").point(lambda v: v / 255.0), "TIFF"),
        "32-bit float TIFF (F) in 0..1",
    )
    samples["rgb_trns.png"] = (encode(card, "PNG", transparency=GREY), "RGB PNG with tRNS colour key")
    samples["ycbcr.tiff"] = (encode(card, "TIFF", compression="jpeg"), "YCbCr/JPEG-compressed TIFF")
    samples["cmyk.tiff"] = (encode(card.convert("CMYK"), "TIFF"), "CMYK TIFF")
    samples["rgb.webp"] = (encode(card, "WEBP", lossless=True), "WebP lossless")
    samples["rgba.webp"] = (encode(rgba, "WEBP", lossless=True), "WebP with alpha")
    samples["rgb.bmp"] = (encode(card, "BMP"), "BMP")
    samples["p.bmp"] = (encode(pal, "BMP"), "palette BMP")
    samples["icc.jpg"] = (encode(card, "JPEG", icc_profile=srgb_icc()), "JPEG with an ICC profile")
    samples["animated.gif"] = (animated_gif(), "animated GIF")
    samples["animated.webp"] = (animated_webp(), "animated WebP")
    samples["mpo.jpg"] = (mpo(), "MPO (two JPEGs)")
    samples["multipage.tiff"] = (multipage_tiff(), "multi-page TIFF")
    return samples


def _frames(size=(30, 20)):
    first = card_image(*size)
    second = Image.new("RGB", size, (250, 250, 0))
    return first, second


def animated_gif() -> bytes:
    first, second = _frames()
    return encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def animated_webp() -> bytes:
    first, second = _frames()
    return encode(first, "WEBP", save_all=True, append_images=[second], duration=100, lossless=True)


def mpo() -> bytes:
    first, second = _frames()
    return encode(first, "MPO", save_all=True, append_images=[second], quality=95)


def multipage_tiff() -> bytes:
    first, second = _frames()
    return encode(first, "TIFF", save_all=True, append_images=[second])
