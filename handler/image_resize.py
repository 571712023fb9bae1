"""The pure image step of ImageResizeLambda: image bytes + settings -> resized image bytes.

No S3 and no AWS here, so notebooks, tests and benchmarks call ``resize_image`` directly, and
``lambda_function.py`` only moves bytes between buckets. Deployed to AWS next to
``lambda_function.py`` (imported there as the top-level module ``image_resize``); it needs Pillow
(the function's layer) and the standard library only.

What it does to every accepted image (issue 4):

* Formats: only the allow-list ``ACCEPTED_FORMATS`` reaches a decoder (``Image.open(formats=...)``).
* Limits are checked from the header, before any pixel is decoded: ``MAX_INPUT_PIXELS`` (decompression
  bombs) and an estimate of the process's peak memory against the function's memory size: what the
  process already holds, plus what each step below adds - including what decoders hold besides the
  pixels they return (libjpeg's coefficient buffers for progressive and multi-scan JPEGs, libwebp's
  canvases, TIFF strips, BMP run-length data). See "Memory" below.
* JPEG (and MPO) are decoded by libjpeg at a reduced scale (``Image.draft``: 1/2, 1/4 or 1/8) that is
  still at least the target size, then a good filter (LANCZOS by default) brings it to the exact size;
  when the reduced decode already has the target size there is no resampling at all.
* Modes: 1/L/P/LA/PA/RGB/RGBA/CMYK/YCbCr/I;16/I/F are converted for the output format. Transparency
  is flattened onto ``BACKGROUND_COLOR`` (white by default) for JPEG and kept for PNG/WebP; CMYK with
  an ICC profile goes through that profile to sRGB; 16-bit/32-bit/float greys become 8-bit.
* EXIF orientation (also from PNG eXIf, WebP EXIF and XMP) is applied, so the output is upright.
* The ICC profile is kept when it still matches the output's colours. EXIF (GPS included), XMP and
  comments are not copied into the output.
* Animated images (GIF, APNG, WebP, MPO, multi-page TIFF) give their first frame.
* No side becomes 0 pixels.
"""

from __future__ import annotations

import ctypes
import io
import math
import os
import struct
import warnings
from dataclasses import dataclass, field
from typing import Mapping

from PIL import Image, ImageChops, ImageColor, ImageCms

# The decoders of the allow-list, imported once (during INIT in Lambda) rather than on the first
# image: Image.open() would otherwise import all ~40 of Pillow's plugins the first time it meets a
# format that preinit() does not load (WebP, TIFF). This way every image starts from the same
# memory, whatever the function processed before.
from PIL import (  # noqa: F401  (registered with Image.open by being imported)
    BmpImagePlugin,
    GifImagePlugin,
    JpegImagePlugin,
    MpoImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "OUTPUT_FORMATS",
    "RESAMPLING_FILTERS",
    "RUNTIME_BASELINE_MB",
    "memory_in_use",
    "release_freed_memory_promptly",
    "TYPE_EXTENSIONS",
    "ImageRejected",
    "NotAnImage",
    "UnsupportedFormat",
    "CorruptImage",
    "ImageTooLarge",
    "ResizeSettings",
    "ResizedImage",
    "resize_image",
    "target_size",
    "output_key_for",
]

# Pillow format names that may reach a decoder. MPO is the JPEG variant of phones and 3-D cameras
# (several JPEGs in one file); Pillow may return it for a plain "JPEG" open too.
ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "WEBP", "TIFF", "BMP")
# What is passed to Image.open(formats=...): MPO has no opener of its own in Pillow (the JPEG opener
# returns an MpoImageFile when it finds the MPO index), so it is reached through "JPEG".
_OPEN_FORMATS = tuple(f for f in ACCEPTED_FORMATS if f != "MPO")

# Output format -> (Content-Type, extension written, extensions of a key that already match).
OUTPUT_FORMATS = {
    "JPEG": ("image/jpeg", ".jpg", (".jpg", ".jpeg", ".jpe", ".jfif")),
    "PNG": ("image/png", ".png", (".png",)),
    "WEBP": ("image/webp", ".webp", (".webp",)),
}
# OUTPUT_FORMAT=AUTO keeps the source format when it is one of OUTPUT_FORMATS, otherwise writes
# PNG for an image with transparency and JPEG for one without.
OUTPUT_FORMAT_CHOICES = ("JPEG", "PNG", "WEBP", "AUTO")

RESAMPLING_FILTERS = {
    "NEAREST": Image.Resampling.NEAREST,
    "BOX": Image.Resampling.BOX,
    "BILINEAR": Image.Resampling.BILINEAR,
    "HAMMING": Image.Resampling.HAMMING,
    "BICUBIC": Image.Resampling.BICUBIC,
    "LANCZOS": Image.Resampling.LANCZOS,
}

# What the runtime itself occupies before the first image: Python, the runtime client, boto3 with
# an S3 client and Pillow with the allow-list's plugins. 52 MB is the resident memory measured for
# exactly that on Linux x86_64 (``run_local.py bench --only image`` prints it). It stands in for
# ``memory_in_use()`` where that cannot be read (not Linux), and in ``resize_image`` called without
# ``memory_in_use`` (notebooks, tests): there it plays a fresh execution environment.
RUNTIME_BASELINE_MB = 52
MIB = 1024 * 1024

# Bytes per pixel Pillow uses in memory for each mode (RGB is stored as 4 bytes per pixel).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Magic numbers of formats people upload that are not on the allow-list, for a better message than
# "not an image". Checked only after Pillow's allow-listed openers have all declined the bytes.
_KNOWN_OTHER_FORMATS = (
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypmsf1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
    (4, b"ftypavis", "AVIF"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"8BPS", "PSD"),
    (0, b"%PDF", "PDF"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG 2000"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (0, b"gimp xcf", "XCF"),
    (0, b"II*\x00\x10\x00\x00\x00CR", "Canon CR2 raw"),
)


# --------------------------------------------------------------------------------------------- errors


class ImageRejected(Exception):
    """A permanent reason why this object cannot be resized. ``str(err)`` is one human sentence."""

    kind = "rejected"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NotAnImage(ImageRejected):
    """The bytes are not an image in any accepted format (empty, text, ZIP, ...)."""

    kind = "not-an-image"


class UnsupportedFormat(ImageRejected):
    """A real image, but in a format or colour mode this function does not accept."""

    kind = "unsupported"


class CorruptImage(ImageRejected):
    """An accepted format whose header or data is broken or truncated."""

    kind = "corrupt"


class ImageTooLarge(ImageRejected):
    """Refused from the header: a decompression bomb, or more than the function's memory allows."""

    kind = "too-large"


# ------------------------------------------------------------------------------------------- settings


def _env_str(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_int(environ: Mapping[str, str], name: str, default: int | None, minimum: int,
            maximum: int | None = None) -> int | None:
    """Read an integer setting; ``ValueError`` names the variable and the allowed range."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    allowed = f"a whole number from {minimum:,}" + (f" to {maximum:,}" if maximum else " upwards")
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise ValueError(f"{name} must be {allowed}, got {raw!r}.") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {allowed}, got {raw!r}.")
    return value


def _env_choice(environ: Mapping[str, str], name: str, default: str, choices) -> str:
    value = _env_str(environ, name, default).upper()
    if value == "JPG":
        value = "JPEG"
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {environ.get(name)!r}.")
    return value


@dataclass(frozen=True)
class ResizeSettings:
    """How images are resized. Defaults reproduce the guide: half size, JPEG out."""

    scale: float = 0.5
    max_width: int | None = None
    max_height: int | None = None
    output_format: str = "JPEG"
    quality: int = 75  # Pillow's default, which the guide's save(buffer, "JPEG") uses
    resampling: str = "LANCZOS"
    background: tuple = (255, 255, 255)
    max_input_pixels: int = 89_478_485  # Pillow's own MAX_IMAGE_PIXELS default
    memory_size_mb: int = 128  # AWS_LAMBDA_FUNCTION_MEMORY_SIZE; the console default

    def __post_init__(self):
        if not (0 < self.scale <= 1):
            raise ValueError(f"scale must be greater than 0 and at most 1, got {self.scale!r}.")
        if self.output_format not in OUTPUT_FORMAT_CHOICES:
            raise ValueError(f"output_format must be one of {', '.join(OUTPUT_FORMAT_CHOICES)}.")
        if self.resampling not in RESAMPLING_FILTERS:
            raise ValueError(f"resampling must be one of {', '.join(RESAMPLING_FILTERS)}.")
        if not (1 <= self.quality <= 100):
            raise ValueError(f"quality must be from 1 to 100, got {self.quality!r}.")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "ResizeSettings":
        """Read and validate the settings; ``ValueError`` names the variable and what is allowed."""
        raw_scale = environ.get("RESIZE_SCALE")
        scale = 0.5
        if raw_scale is not None and raw_scale.strip() != "":
            try:
                scale = float(raw_scale)
            except ValueError:
                scale = math.nan
            if not (0 < scale <= 1):  # also catches nan and inf
                raise ValueError(
                    "RESIZE_SCALE must be a number greater than 0 and at most 1 "
                    f"(0.5 halves each side), got {raw_scale!r}."
                )
        raw_bg = _env_str(environ, "BACKGROUND_COLOR", "#ffffff")
        try:
            background = ImageColor.getrgb(raw_bg)[:3]
        except ValueError:
            raise ValueError(
                "BACKGROUND_COLOR must be a colour such as '#ffffff', 'white' or 'rgb(0,0,0)', "
                f"got {raw_bg!r}."
            ) from None
        return cls(
            scale=scale,
            max_width=env_int(environ, "MAX_WIDTH", None, 1, 65_535),
            max_height=env_int(environ, "MAX_HEIGHT", None, 1, 65_535),
            output_format=_env_choice(environ, "OUTPUT_FORMAT", "JPEG", OUTPUT_FORMAT_CHOICES),
            quality=env_int(environ, "OUTPUT_QUALITY", 75, 1, 100),
            resampling=_env_choice(environ, "RESAMPLING_FILTER", "LANCZOS", tuple(RESAMPLING_FILTERS)),
            background=background,
            max_input_pixels=env_int(environ, "MAX_INPUT_PIXELS", 89_478_485, 1),
            # Lambda sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE itself (128-10,240 MB).
            memory_size_mb=env_int(environ, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 128, 128, 10_240),
        )


# --------------------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class ResizedImage:
    data: bytes = field(repr=False)
    format: str  # Pillow name of the output format: JPEG, PNG or WEBP
    content_type: str
    extension: str  # ".jpg", ".png", ".webp"
    width: int
    height: int
    source_format: str  # Pillow name of the input format (JPEG, MPO, PNG, ...)
    source_mode: str
    source_width: int  # from the header (as stored, before EXIF orientation; TIFF: as Pillow reports)
    source_height: int
    orientation: int = 1  # the source's EXIF orientation, now applied (1 = none)
    decoded_width: int = 0  # size libjpeg decoded at (reduced-scale decoding), else the full size
    decoded_height: int = 0
    animated: bool = False  # the source has more frames (GIF, APNG, WebP, MPO, TIFF pages); frame 0 was used
    icc_profile_kept: bool = False
    # The process's peak memory the limit check predicted from the header: what it held before plus
    # what the steps added (compare with Max Memory Used).
    estimated_peak_bytes: int = 0

    def as_dict(self) -> dict:
        """JSON-friendly summary (without the bytes) for logs and the handler's result body."""
        return {
            "format": self.format,
            "contentType": self.content_type,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.data),
            "sourceFormat": self.source_format,
            "sourceMode": self.source_mode,
            "sourceWidth": self.source_width,
            "sourceHeight": self.source_height,
            "orientation": self.orientation,
            "decodedWidth": self.decoded_width,
            "decodedHeight": self.decoded_height,
            "animated": self.animated,
            "estimatedMemoryMB": math.ceil(self.estimated_peak_bytes / MIB),
        }


# ------------------------------------------------------------------------------------------- geometry


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def target_size(width: int, height: int, settings: ResizeSettings) -> tuple[int, int]:
    """Output size for an upright ``width x height`` image: scaled, then fitted inside
    MAX_WIDTH x MAX_HEIGHT keeping the aspect ratio. Halves round up (1801 -> 901, as libjpeg's
    half-scale decode does), and no side is ever 0: a 1x1 image stays 1x1."""
    factor = settings.scale
    if settings.max_width:
        factor = min(factor, settings.max_width / width)
    if settings.max_height:
        factor = min(factor, settings.max_height / height)
    w = max(1, _round_half_up(width * factor))
    h = max(1, _round_half_up(height * factor))
    if settings.max_width:
        w = min(w, settings.max_width)
    if settings.max_height:
        h = min(h, settings.max_height)
    return w, h


# Extensions that name a file type. A key ending in one that does not match the output's bytes
# gets the output's extension added; any other ending (none, ``.v2``, ``.20240101``) is part of the
# name and stays as it is.
TYPE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".gif", ".tif", ".tiff", ".bmp",
    ".dib", ".mpo", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".j2k", ".ico", ".cur", ".svg", ".svgz",
    ".psd", ".xcf", ".eps", ".tga", ".pcx", ".ppm", ".pgm", ".pbm", ".pnm", ".dng", ".cr2", ".cr3",
    ".nef", ".arw", ".orf", ".rw2", ".raf", ".raw", ".pdf", ".txt", ".zip", ".gz", ".html", ".htm",
    ".json", ".xml", ".csv", ".bin", ".dat", ".mp4", ".mov",
})


def output_key_for(source_key: str, prefix: str, extension: str, accepted_extensions=()) -> str:
    """The key a resized image is written under: ``prefix + source key``, plus the output's extension
    when the source's own names another file type.

    * an extension that matches the output (any case) is kept: ``test.jpg`` -> ``resized-test.jpg``,
      ``photos/a b.JPG`` -> ``resized-photos/a b.JPG``, ``x.jpeg`` -> ``resized-x.jpeg``;
    * the extension of another type stays in the name and the output's is added: ``hopper.png``
      written as JPEG -> ``resized-hopper.png.jpg``, ``scan.tif`` -> ``resized-scan.tif.jpg``,
      ``scan.tiff`` -> ``resized-scan.tiff.jpg``;
    * a name without a type extension is kept as it is (nothing in it contradicts the bytes, and
      ``photo.jpg`` already owns ``resized-photo.jpg``): ``photo`` -> ``resized-photo``,
      ``IMG.20240101`` -> ``resized-IMG.20240101``;
    * so that no two keys meet, a key that ends in exactly the added extension after a name that
      gets it added gets it too: ``x.png.jpg`` -> ``resized-x.png.jpg.jpg`` (``x.png`` has
      ``resized-x.png.jpg``).

    Distinct keys therefore never share an output key, whatever the prefix, the output format (AUTO
    picks one per image) and the extensions' case: tests/test_output_key_rule.py proves it over
    generated keys."""
    accepted = {e.lower() for e in accepted_extensions} | {extension.lower()}
    return prefix + source_key + (extension if _gets_extension(source_key, extension, accepted) else "")


def _extension(key: str) -> str | None:
    """The extension of the key's last path segment, dot included; None when it has none (a dot
    that starts the name, as in ``.hidden``, is not one)."""
    name = key.rpartition("/")[2]
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else None


def _gets_extension(key: str, extension: str, accepted: set) -> bool:
    """Whether ``output_key_for`` adds ``extension`` to ``key``: its extension names another type,
    or it is exactly ``extension`` after a name that gets it (followed down the chain, so
    ``x.png.jpg.jpg`` follows ``x.png.jpg``, which follows ``x.png``)."""
    while True:
        ext = _extension(key)
        if ext is None:
            return False
        if ext.lower() not in accepted:
            return ext.lower() in TYPE_EXTENSIONS
        if ext != extension:
            return False
        key = key[:-len(extension)]


def _draft_request(width: int, height: int, target: tuple[int, int]) -> tuple[int, int] | None:
    """The size to pass to ``Image.draft`` so libjpeg uses the largest scale (1/8, 1/4, 1/2) whose
    result is still at least ``target`` on both sides; None when full scale is needed.

    Pillow picks scale = min(width // requested_w, height // requested_h) rounded down to 8/4/2/1,
    while libjpeg's result is ceil(width / scale). Asking for the target itself would miss the
    half-scale decode of odd sizes (311 px -> 156 px target: 311 // 156 = 1), so ask for
    width // scale instead."""
    for scale in (8, 4, 2):
        if -(-width // scale) >= target[0] and -(-height // scale) >= target[1]:
            return max(1, width // scale), max(1, height // scale)
    return None


# ------------------------------------------------------------------------------------------ the step


_SIGNATURES_OF_ACCEPTED = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),
    (b"MM\x00+", "TIFF"),
    (b"BM", "BMP"),
)


def _jpeg_precision(data: bytes) -> int | None:
    """Sample precision from the first SOF marker of a JPEG, or None if there is none to read."""
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return data[i + 4] if i + 4 < n else None
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        i += 2 + length
    return None


def _classify_unidentified(data: bytes) -> ImageRejected:
    """Pillow's allow-listed openers all declined the bytes: say why as precisely as we can."""
    for offset, magic, name in _KNOWN_OTHER_FORMATS:
        if data[offset:offset + len(magic)] == magic:
            return UnsupportedFormat(
                f"{name} images are not accepted; accepted formats are {', '.join(ACCEPTED_FORMATS)}."
            )
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return UnsupportedFormat(
            f"SVG images are not accepted; accepted formats are {', '.join(ACCEPTED_FORMATS)}."
        )
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return CorruptImage("The WebP header is damaged, so the image cannot be read.")
    for magic, name in _SIGNATURES_OF_ACCEPTED:
        if data.startswith(magic):
            if name == "JPEG":
                precision = _jpeg_precision(data)
                if precision is not None and precision != 8:
                    return UnsupportedFormat(
                        f"This is a {precision}-bit-precision JPEG, which Pillow cannot decode; "
                        "save it as an ordinary 8-bit JPEG."
                    )
            return CorruptImage(f"The {name} header is damaged or cut short, so the image cannot be read.")
    return NotAnImage(
        "The object is not an image in an accepted format "
        f"({', '.join(ACCEPTED_FORMATS)})."
    )


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
    return text[:200]


def _decoder_failure(exc: BaseException, what: str) -> ImageRejected:
    """Map an exception raised by Pillow on untrusted bytes to a typed rejection."""
    text = _describe(exc)
    if isinstance(exc, Image.DecompressionBombError):
        return ImageTooLarge(
            f"Refused from the header as a decompression bomb ({text}); raise MAX_INPUT_PIXELS only "
            "if such images are expected."
        )
    if "Decompressed data too large" in text:
        return ImageTooLarge(
            f"A compressed metadata chunk inflates past Pillow's safety limit ({text}); it was refused "
            "as a decompression bomb."
        )
    if "unsupported" in text.lower() or "not supported" in text.lower():
        return UnsupportedFormat(f"This {what} uses a variant Pillow cannot decode: {text}.")
    return CorruptImage(f"The {what} is damaged or cut short: {text}.")


def _open(data: bytes) -> Image.Image:
    if not data:
        raise NotAnImage("The object is empty (0 bytes), so there is no image to resize.")
    try:
        with warnings.catch_warnings():
            # MAX_INPUT_PIXELS is checked right after opening; Pillow's warning would only add noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=list(_OPEN_FORMATS))
    except Image.UnidentifiedImageError:
        raise _classify_unidentified(data) from None
    except Exception as exc:  # noqa: BLE001 - any parser failure on untrusted bytes is a rejection
        raise _decoder_failure(exc, "image header") from None
    if im.format not in ACCEPTED_FORMATS:  # defensive: an opener returning another format
        im.close()
        raise UnsupportedFormat(
            f"{im.format} images are not accepted; accepted formats are {', '.join(ACCEPTED_FORMATS)}."
        )
    return im


def _orientation(im: Image.Image) -> int:
    """EXIF orientation (JPEG APP1, TIFF tags, PNG eXIf, WebP EXIF, XMP tiff:Orientation); 1 if none."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data" and the like
            value = im.getexif().get(0x0112, 1)
        value = int(value)
    except Exception:  # noqa: BLE001 - a corrupt EXIF block must not stop the resize
        return 1
    return value if value in _ORIENTATION_TRANSPOSE else 1


_HIGH_BIT_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N", "I;16S", "F")


def _has_alpha(im: Image.Image) -> bool:
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    return im.info.get("transparency") is not None and (im.mode in ("P", "L", "RGB", "1") or im.mode in _HIGH_BIT_GREY)


def _choose_output_format(source_format: str, has_alpha: bool, settings: ResizeSettings) -> str:
    if settings.output_format != "AUTO":
        return settings.output_format
    if source_format in ("WEBP", "PNG"):
        return source_format
    if source_format in ("JPEG", "MPO"):
        return "JPEG"
    return "PNG" if has_alpha else "JPEG"


def _working_mode(mode: str, alpha: bool) -> str:
    """The 8-bit mode resampling happens in: L, LA, RGB or RGBA."""
    grey = mode in ("1", "L", "LA", "La") or mode in _HIGH_BIT_GREY
    if grey:
        return "LA" if alpha else "L"
    return "RGBA" if alpha else "RGB"


# --------------------------------------------------------------------------------------------- memory
#
# Lambda kills the runtime when its memory passes the function's memory size (Runtime.OutOfMemory),
# and the sandbox does the same with the worker's resident memory. So before anything is decoded the
# step predicts the process's peak: what it already holds (``memory_in_use``) plus what each step
# adds while it runs, walked in the same order as ``_resize_opened`` with the images and buffers
# alive at each moment. Pillow stores 1/L/P at 1 byte per pixel, I;16 at 2 and every other mode (RGB
# and LA included) at 4. Decoders that hold more than the image they return are counted by name:
#
# * progressive and multi-scan JPEG: libjpeg keeps every DCT coefficient of the whole image (2 bytes
#   per coefficient, 64 per 8x8 block, per component at its own sampling) until the last scan, at any
#   draft scale. A 4800x3600 4:4:4 progressive JPEG holds 99 MB of coefficients for a 2400x1800 output.
#   (A baseline JPEG holds a few rows.) This cannot be avoided through Pillow, so such images are
#   refused when it does not fit.
# * WebP: Pillow decodes through libwebp's animation decoder, which keeps the canvas and the previous
#   canvas (8 bytes per pixel, until the image is released) and returns the frame as bytes (4 more);
#   lossless data and alpha planes need libwebp's own pixel buffer besides.
# * TIFF through libtiff: one strip or tile at a time at the file's bit depth - the whole image when
#   it is stored as one strip; JPEG-compressed YCbCr strips are read as RGBA.
# * BMP with run-length encoding: Pillow expands the runs into a bytearray and copies it (2 bytes per
#   pixel besides the image).
# * PNG (interlaced too: Pillow de-interlaces row by row into the image), GIF and baseline BMP/TIFF
#   hold a few rows.
#
# ``run_local.py bench --only image`` prints this estimate beside the Max Memory Used measured for
# every decodable file of the real-world corpus.

# Besides the buffers counted: decoder state, Huffman/LZW tables, Python objects, an ICC transform,
# and the code of a codec's library, paged in the first time an environment uses it (measured: a
# 64x64 WebP or a 100x100 JPEG-compressed CMYK TIFF as first image adds 2-3 MB).
_FIXED_OVERHEAD = 3 * MIB

try:
    _PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):  # no sysconf (Windows)
    _PAGE_SIZE = 4096


def memory_in_use() -> int | None:
    """This process's resident memory now, in bytes; None where it cannot be read (not Linux).

    Max Memory Used (on AWS and in the sandbox) is the peak resident memory of the runtime, so what
    the process holds already - Python, boto3, Pillow, the downloaded object, and whatever an earlier
    invocation left in the heap - is read, not assumed. (On AWS the limit applies to the whole
    execution environment, of which the runtime's process is almost all.)"""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def release_freed_memory_promptly() -> bool:
    """Make the C allocator give freed image buffers back to the system at once. Returns whether it
    could (glibc: Linux, and so Lambda; elsewhere nothing happens).

    glibc serves large blocks with mmap and returns them on free, but after the first such block is
    freed it raises that threshold (up to 32 MB) and then keeps up to twice as much free memory in
    its heap for reuse. One invocation's image buffers would stay resident into the next, and a warm
    execution environment would carry tens of MB that a fresh one does not (measured: 87 MB instead
    of 53 MB after a few photos). Setting the threshold explicitly (to glibc's own default of 128 KiB)
    turns that adjustment off, so every image starts from the memory a fresh environment has."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    m_mmap_threshold = -3  # M_MMAP_THRESHOLD in glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, 128 * 1024))


@dataclass(frozen=True)
class _JpegLayout:
    """What libjpeg will allocate for a JPEG, from its frame header (SOFn) and first scan header."""

    width: int
    height: int
    sampling: tuple  # (h, v) sampling factors, one pair per component
    full_buffer: bool  # progressive, or the first scan lacks components: every coefficient is kept

    def coefficient_bytes(self) -> int:
        """libjpeg's whole-image coefficient arrays (jdcoefct.c): per component, its blocks rounded up
        to whole MCUs, 64 coefficients of 2 bytes each."""
        h_max = max(h for h, _ in self.sampling)
        v_max = max(v for _, v in self.sampling)
        total = 0
        for h, v in self.sampling:
            width_in_blocks = -(-self.width * h // (h_max * 8))
            height_in_blocks = -(-self.height * v // (v_max * 8))
            total += (-(-width_in_blocks // h) * h) * (-(-height_in_blocks // v) * v) * 128
        return total


def _jpeg_layout(data: bytes) -> _JpegLayout | None:
    """Parse the markers up to the first scan (SOS); None if they cannot be read."""
    i, n = 2, len(data)
    frame = None
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        body = data[i + 4:i + 2 + length]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn
            if len(body) < 6:
                return None
            height, width, count = struct.unpack(">HHB", body[1:6])
            if len(body) < 6 + 3 * count or count == 0:
                return None
            sampling = tuple((body[7 + 3 * c] >> 4 or 1, body[7 + 3 * c] & 15 or 1) for c in range(count))
            frame = (width, height, sampling, marker in (0xC2, 0xC6, 0xCA, 0xCE))
        elif marker == 0xDA:  # SOS: the first scan
            if frame is None or not body:
                return None
            width, height, sampling, progressive = frame
            return _JpegLayout(width, height, sampling, progressive or body[0] < len(sampling))
        i += 2 + length
    if frame is None:
        return None
    width, height, sampling, progressive = frame
    return _JpegLayout(width, height, sampling, progressive)


def _riff_chunks(data: bytes, start: int, end: int):
    """(fourcc, offset of body, size) of each RIFF chunk between ``start`` and ``end``."""
    i = start
    while i + 8 <= end:
        fourcc = data[i:i + 4]
        size = int.from_bytes(data[i + 4:i + 8], "little")
        yield fourcc, i + 8, size
        i += 8 + size + (size & 1)


def _webp_decoder_bytes(data: bytes, pixels: int) -> tuple[int, int]:
    """(transient, held): libwebp's memory for the first frame besides the image Pillow makes of it.
    Held until the image object is released: the canvas and the previous canvas (RGBA), and what
    the decoder set up for lossless data or an alpha plane. Transient: the frame returned to Pillow
    as bytes, and the lossless decoder's work buffers. (Measured on 6 MP images: lossy 16.2 bytes per
    pixel at the peak, lossy with alpha 16.8, lossless 17.5, with 1.4 of it held.)"""
    kinds = set()
    for fourcc, offset, size in _riff_chunks(data, 12, len(data)):
        kinds.add(fourcc)
        if fourcc == b"ANMF":  # the first frame's own chunks follow its 16-byte header
            kinds.update(f for f, _, _ in _riff_chunks(data, offset + 16, min(len(data), offset + size)))
            break
    held, transient = 8 * pixels, 9 * pixels // 2  # (4 for the bytes, and a margin)
    if b"VP8L" in kinds:
        held, transient = held + 2 * pixels, transient + pixels
    if b"ALPH" in kinds:
        held, transient = held + pixels, transient + pixels
    return transient, held


def _tiff_decoder_bytes(im: Image.Image) -> int:
    """The strip or tile buffer libtiff fills (compressed TIFF; Pillow reads uncompressed ones itself,
    a few rows at a time)."""
    tags = getattr(im, "tag_v2", None)
    if tags is None or getattr(im, "_compression", "raw") == "raw":
        return 0
    width, height = im.size
    bits = tags.get(258, (8,))
    bits_per_pixel = (sum(bits) if isinstance(bits, tuple) else int(bits)) or 8
    samples = int(tags.get(277, 1) or 1)
    if isinstance(bits, tuple) and len(bits) < samples:
        bits_per_pixel = bits[0] * samples
    if 322 in tags and 323 in tags:  # tiled
        region = int(tags[322]) * min(int(tags[323]), height)
        row_width = int(tags[322])
    else:
        rows = int(tags.get(278, height) or height)
        region = width * min(rows, height)
        row_width = width
    buffer = region * bits_per_pixel // 8 + row_width * 8
    if tags.get(262) == 6 and im._compression in ("jpeg", "tiff_jpeg"):  # YCbCr JPEG: read as RGBA
        buffer += region * 4
    return buffer


def _decoder_bytes(im: Image.Image, data: bytes, full: tuple[int, int], decoded: tuple[int, int]) -> tuple[int, int]:
    """(transient, held): what the decoder needs besides the image while ``load()`` runs, and what
    it keeps after it until the source image is released."""
    fmt = im.format
    full_px = full[0] * full[1]
    if fmt in ("JPEG", "MPO"):
        layout = _jpeg_layout(data)
        components = len(layout.sampling) if layout else len(im.getbands())
        # a few MCU rows per component at the decoded width (sequential decoding)
        rows = decoded[0] * components * 16 * 4
        if layout is None:  # cannot tell: assume the worst, a progressive 4:4:4 image
            return rows + full_px * components * 2, 0
        return rows + (layout.coefficient_bytes() if layout.full_buffer else 0), 0
    if fmt == "WEBP":
        return _webp_decoder_bytes(data, full_px)
    if fmt == "TIFF":
        return _tiff_decoder_bytes(im), 0
    if fmt == "BMP" and im.tile and im.tile[0][0] == "bmp_rle":
        return full_px * 9 // 4, 0  # bytearray (grown by ~1/8) + its bytes() copy
    return 0, 0


class _Ledger:
    """Bytes alive now and the highest total seen."""

    def __init__(self):
        self.alive = 0
        self.peak = 0

    def during(self, transient: int) -> None:
        self.peak = max(self.peak, self.alive + transient)

    def hold(self, n: int) -> None:
        self.alive += n
        self.peak = max(self.peak, self.alive)

    def release(self, n: int) -> None:
        self.alive -= n


def _describe_source(im: Image.Image, data: bytes) -> str:
    """'progressive JPEG', 'lossless WebP', '16-bit TIFF'...: the words that explain a memory need."""
    fmt = {"WEBP": "WebP"}.get(im.format or "", im.format or "image")
    if im.format in ("JPEG", "MPO"):
        layout = _jpeg_layout(data)
        if layout is not None and layout.full_buffer:
            return ("progressive " if im.info.get("progressive") else "multi-scan ") + fmt
    if im.format == "WEBP" and b"VP8L" in data[12:4096]:
        return "lossless " + fmt
    if im.mode.startswith("I;16"):
        return "16-bit " + fmt
    if im.mode in ("I", "F", "CMYK"):
        return {"I": "32-bit ", "F": "floating-point ", "CMYK": "CMYK "}[im.mode] + fmt
    return fmt


def _pillow_bytes(mode: str, size: tuple[int, int]) -> int:
    return size[0] * size[1] * _BYTES_PER_PIXEL.get(mode, 4)


def _estimate_bytes(im: Image.Image, data: bytes, *, full: tuple[int, int], decoded: tuple[int, int],
                    target: tuple[int, int], work_mode: str, has_alpha: bool, keep_alpha: bool,
                    rotate: bool, out_format: str, settings: "ResizeSettings") -> int:
    """Upper estimate, from the header only, of the memory the steps of ``_resize_opened`` add to
    what the process holds before them (the downloaded bytes included), in bytes."""
    mode = im.mode
    ledger = _Ledger()
    # 0. An ICC profile is in info, joined from its segments, and written again by the encoder; a
    # CMYK profile is also parsed by LittleCMS for the transform to sRGB.
    icc = len(im.info.get("icc_profile") or b"")
    ledger.hold(4 * icc + (MIB if icc and mode == "CMYK" else 0))
    # 1. Decode.
    decoded_image = _pillow_bytes(mode, decoded)
    transient, held = _decoder_bytes(im, data, full, decoded)
    ledger.during(decoded_image + transient + held)
    ledger.hold(decoded_image + held)
    if im.format == "TIFF" and rotate:
        ledger.during(decoded_image)  # Pillow applies a TIFF's orientation in load(), into a new image

    # 2. Mode (_normalise_mode): each conversion makes a new image while the one before is alive;
    # the decoded image is closed once something has replaced it.
    px = decoded[0] * decoded[1]
    work_bpp = 1 if work_mode == "L" else 4
    alpha_mode = _working_mode(mode, has_alpha)
    current = decoded_image  # bytes of the image the next step reads
    converted = False

    def replace_with(new: int, transient: int = 0) -> None:
        nonlocal current, converted
        ledger.during(new + transient)
        ledger.hold(new)
        if converted:
            ledger.release(current)
        current, converted = new, True

    if mode == "CMYK":
        replace_with(4 * px)  # sRGB out of the ICC transform (or convert)
    elif mode in _HIGH_BIT_GREY:
        # I;16: point() keeps 2 bytes, then L; the others: convert("I") 4, point() 4, then L
        replace_with(px, px * (2 if mode == "I;16" else 8))
        if alpha_mode == "LA" and mode != "F":  # colour key: mask from two clipped differences
            replace_with(4 * px if keep_alpha else px, 14 * px)
    else:
        if mode in ("P", "PA", "La", "RGBa") or mode != alpha_mode:
            replace_with(_pillow_bytes("L" if alpha_mode == "L" else "RGBA", decoded))
        if alpha_mode in ("LA", "RGBA") and not keep_alpha:  # flatten: background, alpha (and grey)
            replace_with(px if alpha_mode == "LA" else 4 * px, 2 * px if alpha_mode == "LA" else px)
    if work_bpp == 4 and _working_mode(mode, False) == "L":
        replace_with(4 * px)  # WebP output has no grey modes: to RGB(A)
    if converted:
        ledger.release(decoded_image)
    source = current

    # 3. Resample to the target size (two passes: a horizontal one into a temporary image, then a
    # vertical one; images with alpha are premultiplied first and converted back after).
    tw, th = target
    out = tw * th * work_bpp
    if decoded != target:
        dw, dh = decoded
        temp = tw * dh * work_bpp if (dw != tw and dh != th) else 0
        support = {"NEAREST": 0, "BOX": 0.5, "BILINEAR": 1, "HAMMING": 1, "BICUBIC": 2, "LANCZOS": 3}
        ratio = max(dw / tw, dh / th, 1.0)
        coefficients = (tw + th) * (2 * math.ceil(support[settings.resampling] * ratio) + 1) * 8 * 2
        if settings.resampling == "NEAREST":
            temp = coefficients = 0
        premultiplied = work_mode in ("LA", "RGBA") and settings.resampling != "NEAREST"
        if premultiplied:
            ledger.during(4 * px + temp + coefficients + out)
            ledger.during(out + out)  # converted back from premultiplied
        else:
            ledger.during(temp + coefficients + out)
        ledger.hold(out)
        ledger.release(source)
    else:
        out = source
    # 4. Upright.
    if rotate:
        ledger.during(out)
    # 5. Encode into memory: the output bytes (as JPEG, random noise takes 0.6 bytes per pixel at
    # quality 75, 1.2 at 95, 2.0 at 100; PNG may not compress at all; BytesIO grows by 1/8 more than
    # it needs) and the encoder's own buffers.
    pixels = tw * th
    if out_format == "PNG":
        encoded = pixels * (1 if work_mode == "L" else 3 if work_mode == "RGB" else 4) * 9 // 8
    else:
        encoded = int(pixels * (0.75 if settings.quality <= 80 else 1.4 if settings.quality <= 95 else 2.3))
    if out_format == "WEBP":
        # libwebp's pictures and token buffers, which grow with the quality (measured: 7.5 bytes per
        # pixel at 75, 13 at 95); an alpha plane is compressed losslessly, with hash chains of its own
        # (measured: 39-50 bytes per pixel).
        encoded += pixels * (8 + max(0, settings.quality - 70) * 3 // 10)
        if work_mode in ("LA", "RGBA"):
            encoded += 6 * MIB + pixels * 36
    encoded += max(65536, tw * 4) + tw * 3 * 16 * 4  # the encoder's chunk and row buffers
    ledger.during(encoded)
    return ledger.peak + _FIXED_OVERHEAD


def _to_8bit_grey(im: Image.Image) -> Image.Image:
    """I;16 / I / F -> L. 16-bit values are divided by 257 (65535 -> 255); 32-bit integers outside
    0..65535 and floats outside 0..1 are stretched from their own minimum to maximum."""
    if im.mode == "I;16":
        return im.point(lambda v: v / 257 + 0.5).convert("L")  # stays 2 bytes per pixel
    if im.mode not in ("I", "F"):  # I;16B / I;16L / I;16N: point() needs I
        im = im.convert("I")
        lo, hi = 0, 65535
    else:
        lo, hi = im.getextrema()
        if im.mode == "F" and lo >= 0 and hi <= 1:
            lo, hi = 0.0, 1.0
        elif im.mode == "I" and lo >= 0 and hi <= 255:
            lo, hi = 0, 255
        elif im.mode == "I" and lo >= 0 and hi <= 65535:
            lo, hi = 0, 65535
    factor = 255.0 / ((hi - lo) or 1)
    return im.point(lambda v: v * factor - lo * factor + 0.5).convert("L")  # convert() clips to 0..255


def _colour_key_mask(im: Image.Image, key: int) -> Image.Image:
    """Alpha for a high-bit grey image with a tRNS colour key: 0 where the value equals ``key``.
    Pillow's point() is linear for these modes, so |v - key| is built from two clipped halves."""
    values = im if im.mode in ("I", "F") else im.convert("I")
    above = values.point(lambda v: v - key).convert("L")
    below = values.point(lambda v: key - v).convert("L")
    return ImageChops.lighter(above, below).point(lambda d: 255 if d else 0)


def _icc_colour_space(icc: bytes | None) -> bytes | None:
    if not icc or len(icc) < 20:
        return None
    return bytes(icc[16:20])


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """CMYK -> sRGB through the embedded CMYK profile when there is one (correct colours), else
    Pillow's plain conversion (which already handles Adobe's inverted CMYK JPEGs)."""
    if _icc_colour_space(icc) == b"CMYK":
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(
                im, src, ImageCms.createProfile("sRGB"), outputMode="RGB",
                renderingIntent=ImageCms.Intent.PERCEPTUAL,
            )
            if out is not None:
                return out
        except Exception:  # noqa: BLE001 - a broken profile falls back to the plain conversion
            pass
    return im.convert("RGB")


def _flatten(im: Image.Image, background: tuple) -> Image.Image:
    """Composite an image with alpha (LA or RGBA) onto an opaque ``background``."""
    if im.mode == "LA":
        grey = _round_half_up(0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2])
        base = Image.new("L", im.size, grey)
        base.paste(im.getchannel("L"), mask=im.getchannel("A"))
        return base
    base = Image.new("RGB", im.size, background)
    base.paste(im, mask=im.getchannel("A"))
    return base


def _normalise_mode(im: Image.Image, work_mode: str, keep_alpha: bool, background: tuple,
                    icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Convert the decoded image to ``work_mode`` (L / LA / RGB / RGBA), flattening alpha onto the
    background when the output keeps none. Returns the image and the ICC profile still valid for it."""
    mode = im.mode
    alpha_mode = _working_mode(mode, _has_alpha(im))  # the mode that holds every channel
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc), None  # now sRGB: no profile needed
    if mode in _HIGH_BIT_GREY:
        grey = _to_8bit_grey(im)
        trns = im.info.get("transparency")
        if alpha_mode == "LA" and isinstance(trns, int) and mode != "F":
            mask = _colour_key_mask(im, trns)
            if keep_alpha:
                grey.putalpha(mask)
            else:
                grey = _flatten(Image.merge("LA", (grey, mask)), background)
        out = grey
    else:
        out = im
        if mode in ("P", "PA"):
            out = out.convert("RGBA" if alpha_mode == "LA" or alpha_mode == "RGBA" else "RGB")
            alpha_mode = out.mode
        elif mode in ("La", "RGBa"):
            out = out.convert({"La": "LA", "RGBa": "RGBA"}[mode])
        elif mode != alpha_mode:
            out = out.convert(alpha_mode)  # 1 -> L, YCbCr/HSV/RGBX -> RGB, L/RGB + tRNS -> LA/RGBA
        if alpha_mode in ("LA", "RGBA") and not keep_alpha:
            out = _flatten(out, background)
    if work_mode in ("RGB", "RGBA") and out.mode in ("L", "LA"):  # WebP output has no grey modes
        out = out.convert("RGBA" if out.mode == "LA" else "RGB")
    wanted = b"GRAY" if out.mode in ("L", "LA") else b"RGB "
    return out, (icc if _icc_colour_space(icc) == wanted else None)


def resize_image(data: bytes, settings: ResizeSettings | None = None, *,
                 bytes_in_use: int | None = None) -> ResizedImage:
    """Resize one image. Raises an ``ImageRejected`` subclass (one-sentence message) for anything
    that is not a resizable image; any other exception is a bug.

    ``bytes_in_use``: the memory the process holds already (the handler passes ``memory_in_use()``);
    by default that of a fresh execution environment holding ``data``: RUNTIME_BASELINE_MB + the bytes."""
    settings = settings or ResizeSettings()
    if bytes_in_use is None:
        bytes_in_use = RUNTIME_BASELINE_MB * MIB + len(data)
    im = _open(data)
    try:
        return _resize_opened(im, data, settings, bytes_in_use)
    finally:
        im.close()


def _resize_opened(im: Image.Image, data: bytes, settings: ResizeSettings, bytes_in_use: int) -> ResizedImage:
    source_format = im.format or "unknown"
    source_mode = im.mode
    source_w, source_h = im.size
    try:  # reads the second frame's header only (no pixels); the first frame stays current
        animated = bool(getattr(im, "is_animated", False))
    except Exception:  # noqa: BLE001 - a damaged second frame does not matter: only frame 0 is used
        animated = False
        im.seek(0)

    if source_w < 1 or source_h < 1:
        raise CorruptImage(f"The header declares an empty {source_w}x{source_h} image.")
    # 1. Limits, from the header only (nothing is decoded yet).
    pixels = source_w * source_h
    if pixels > settings.max_input_pixels:
        raise ImageTooLarge(
            f"The image is {source_w}x{source_h} ({pixels / 1e6:,.1f} MP), above "
            f"MAX_INPUT_PIXELS={settings.max_input_pixels:,}; it was refused before decoding - "
            "raise MAX_INPUT_PIXELS if such images are expected."
        )

    orientation = source_orientation = _orientation(im)
    swap = orientation in (5, 6, 7, 8)
    upright_w, upright_h = (source_h, source_w) if swap else (source_w, source_h)
    out_w, out_h = target_size(upright_w, upright_h, settings)
    stored_target = (out_h, out_w) if swap else (out_w, out_h)

    # 2. Reduced-scale decoding: libjpeg decodes at 1/2, 1/4 or 1/8 while the result is still at
    # least the target size. draft() only changes what load() will do; nothing is decoded yet.
    if source_format in ("JPEG", "MPO"):
        request = _draft_request(source_w, source_h, stored_target)
        if request is not None:
            try:
                im.draft(im.mode, request)
            except Exception:  # noqa: BLE001 - decode at full size instead
                pass
    decoded = im.size

    icc = im.info.get("icc_profile") or None
    has_alpha = _has_alpha(im)
    out_format = _choose_output_format(source_format, has_alpha, settings)
    keep_alpha = out_format in ("PNG", "WEBP") and has_alpha
    work_mode = _working_mode(im.mode, keep_alpha)
    if out_format == "WEBP" and work_mode in ("L", "LA"):
        work_mode = "RGBA" if work_mode == "LA" else "RGB"  # WebP has no grey modes
    # What the steps below will add to what the process holds, against the function's memory size.
    needed = bytes_in_use + _estimate_bytes(
        im, data, full=(source_w, source_h), decoded=decoded, target=stored_target, work_mode=work_mode,
        has_alpha=has_alpha, keep_alpha=keep_alpha, rotate=orientation != 1, out_format=out_format,
        settings=settings,
    )
    if needed > settings.memory_size_mb * MIB:
        need_mb = math.ceil(needed / MIB)
        suggestion = min(10_240, 64 * math.ceil(need_mb / 64))
        raise ImageTooLarge(
            f"Resizing this {source_w}x{source_h} {_describe_source(im, data)} needs about {need_mb} MB "
            f"but the function has {settings.memory_size_mb} MB; it was refused before decoding - raise "
            f"the function's memory size to at least {suggestion} MB, or lower MAX_INPUT_PIXELS to "
            "refuse such images sooner."
        )

    # 3. Decode the first frame (animated GIF/PNG/WebP, MPO and multi-page TIFF: frame 0 only).
    try:
        im.load()
    except Exception as exc:  # noqa: BLE001 - truncated/corrupt data in any decoder
        raise _decoder_failure(exc, f"{source_format} image data") from None
    decoded = im.size
    if source_format == "TIFF":
        # Recent Pillow applies a TIFF's orientation itself while loading (and drops the tag);
        # older Pillow does not. Read it again now so it is applied exactly once either way.
        orientation = _orientation(im)
        swap = orientation in (5, 6, 7, 8)
        out_w, out_h = target_size(*((decoded[1], decoded[0]) if swap else decoded), settings)
        stored_target = (out_h, out_w) if swap else (out_w, out_h)

    # Each step below makes a new image; the previous one is released at once so that at most two
    # images are alive (this is what lets a 50 MP JPEG fit into 128 MB).
    work: Image.Image = im

    def replace(new: Image.Image) -> None:
        nonlocal work
        if new is not work:
            if work is im:
                im.close()  # frees the decoded pixels; `im` is not used after this
            work = new

    # 4. Mode for the output: 8-bit, alpha kept or flattened, CMYK through its profile.
    try:
        converted, keep_icc = _normalise_mode(work, work_mode, keep_alpha, settings.background, icc)
    except (ValueError, OSError) as exc:
        raise UnsupportedFormat(
            f"The colour mode {source_mode} of this {source_format} cannot be converted: {_describe(exc)}."
        ) from None
    replace(converted)
    del converted  # or the full-size converted image would stay alive through the steps below

    # 5. Resample to the exact target size; skipped when the reduced-scale decode already has it.
    if work.size != stored_target:
        replace(work.resize(stored_target, RESAMPLING_FILTERS[settings.resampling]))
    # 6. Upright.
    if orientation != 1:
        replace(work.transpose(_ORIENTATION_TRANSPOSE[orientation]))

    # 7. Encode. Only the ICC profile is passed on: EXIF (GPS included), XMP and comments are not
    # copied, and info is emptied so no encoder picks any of them up by itself.
    work.info = {}
    params: dict = {}
    if keep_icc:
        params["icc_profile"] = keep_icc
    if out_format == "JPEG":
        params["quality"] = settings.quality
    elif out_format == "WEBP":
        params.update(quality=settings.quality, method=4)
    buf = io.BytesIO()
    try:
        work.save(buf, out_format, **params)
    except (ValueError, OSError) as exc:
        raise UnsupportedFormat(
            f"The {source_mode} {source_format} could not be written as {out_format}: {_describe(exc)}."
        ) from None
    content_type, extension, _ = OUTPUT_FORMATS[out_format]
    return ResizedImage(
        data=buf.getvalue(),
        format=out_format,
        content_type=content_type,
        extension=extension,
        width=work.width,
        height=work.height,
        source_format=source_format,
        source_mode=source_mode,
        source_width=source_w,
        source_height=source_h,
        orientation=source_orientation,
        decoded_width=decoded[0],
        decoded_height=decoded[1],
        animated=animated,
        icc_profile_kept=bool(keep_icc),
        estimated_peak_bytes=needed,
    )
