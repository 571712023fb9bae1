"""The pure image step of ImageResizeLambda: image bytes + settings -> resized image bytes.

No S3 and no AWS here, so notebooks, tests and benchmarks call ``resize_image`` directly, and
``lambda_function.py`` only moves bytes between buckets. Deployed to AWS next to
``lambda_function.py`` (imported there as the top-level module ``image_resize``); it needs Pillow
(the function's layer) and the standard library only.

What it does to every accepted image (issue 4):

* Formats: only the allow-list ``ACCEPTED_FORMATS`` reaches a decoder (``Image.open(formats=...)``).
* Limits are checked from the header, before any pixel is decoded: ``MAX_INPUT_PIXELS`` (decompression
  bombs) and an estimate of the memory the decode needs against the function's memory size.
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

import io
import math
import warnings
from dataclasses import dataclass, field
from typing import Mapping

from PIL import Image, ImageChops, ImageColor

__all__ = [
    "ACCEPTED_FORMATS",
    "OUTPUT_FORMATS",
    "RESAMPLING_FILTERS",
    "RUNTIME_BASELINE_MB",
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
# an S3 client and Pillow. 52 MB is the peak RSS (VmHWM) measured for exactly that on Linux x86_64
# (sandbox/bench/image_step.py prints it). The rest of the function's memory is what one image may
# use; ``_estimate_bytes`` predicts that use from the header.
RUNTIME_BASELINE_MB = 52

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

    @property
    def image_memory_budget(self) -> int:
        """Bytes an image may use: the function's memory minus what the runtime itself occupies."""
        return max(0, self.memory_size_mb - RUNTIME_BASELINE_MB) * 1024 * 1024

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
    estimated_peak_bytes: int = 0  # the header-based memory estimate the limit check used

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


def output_key_for(source_key: str, prefix: str, extension: str, accepted_extensions=()) -> str:
    """``prefix + key``, with the extension changed only when it doesn't match the output's bytes:
    ``test.jpg`` -> ``resized-test.jpg``; ``scan.tiff`` written as JPEG -> ``resized-scan.jpg``;
    ``photo`` (no extension) -> ``resized-photo.jpg``; ``photos/a b.JPG`` -> ``resized-photos/a b.JPG``."""
    accepted = tuple(e.lower() for e in accepted_extensions) or (extension.lower(),)
    folder, slash, name = source_key.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ("." + ext).lower() in accepted:
        new_name = name
    elif dot and stem:
        new_name = stem + extension
    else:
        new_name = name + extension
    return prefix + folder + slash + new_name


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


def _estimate_bytes(*, data_len: int, source_format: str, mode: str, decoded: tuple[int, int],
                    target: tuple[int, int], work_mode: str, flatten: bool, keep_alpha: bool,
                    rotate: bool, out_format: str) -> int:
    """Upper estimate, from the header only, of the peak memory of the steps below, in bytes.

    Walks the same steps as ``_resize_opened`` and tracks which images are alive: Pillow stores
    1/L/P at 1 byte per pixel, I;16 at 2 and everything else (RGB included) at 4; each step's
    result replaces the previous image at once. Calibrated against VmHWM (see sandbox/bench)."""
    dec_px = decoded[0] * decoded[1]
    tgt_px = target[0] * target[1]
    out_bpp = 1 if work_mode == "L" else 4
    dec = dec_px * _BYTES_PER_PIXEL.get(mode, 4)
    # Decoders that hold more than the image while decoding: Pillow's WebP decoder keeps libwebp's
    # canvas and previous canvas and returns the frame as bytes (3 x 4 bytes per pixel); TIFF
    # strips may be read whole.
    extra = {"WEBP": dec_px * 12, "TIFF": data_len}.get(source_format, 0)
    peak = alive = data_len + dec + extra
    alive -= extra
    if mode != work_mode:
        if mode in _HIGH_BIT_GREY:
            step = dec_px * (3 if mode == "I;16" else 9)  # rescaled copy, then the 8-bit result
        elif flatten:
            step = dec_px * (4 + out_bpp + 1)  # with-alpha copy, background, alpha channel
        else:
            step = dec_px * out_bpp
        peak = max(peak, alive + step)
        alive += dec_px * out_bpp - dec
    if decoded != target:
        premultiply = work_mode in ("LA", "RGBA") and keep_alpha
        step = (dec_px * 4 if premultiply else 0) + target[0] * decoded[1] * out_bpp + tgt_px * out_bpp
        peak = max(peak, alive + step)
        alive += tgt_px * out_bpp - dec_px * out_bpp
    if rotate:
        peak = max(peak, alive + tgt_px * out_bpp)
    # The encoder's output (JPEG/WebP rarely exceed 1/3 byte per pixel; PNG may not compress at all).
    encoded = tgt_px * out_bpp if out_format == "PNG" else tgt_px // 3
    if out_format == "WEBP":
        encoded += tgt_px * 4  # libwebp's own picture buffers
    return max(peak, alive + encoded)


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


def resize_image(data: bytes, settings: ResizeSettings | None = None) -> ResizedImage:
    """Resize one image. Raises an ``ImageRejected`` subclass (one-sentence message) for anything
    that is not a resizable image; any other exception is a bug."""
    settings = settings or ResizeSettings()
    im = _open(data)
    try:
        return _resize_opened(im, len(data), settings)
    finally:
        im.close()


def _resize_opened(im: Image.Image, data_len: int, settings: ResizeSettings) -> ResizedImage:
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
    needed = _estimate_bytes(
        data_len=data_len, source_format=source_format, mode=im.mode, decoded=decoded,
        target=stored_target, work_mode=work_mode, flatten=has_alpha and not keep_alpha,
        keep_alpha=keep_alpha, rotate=orientation != 1, out_format=out_format,
    )
    if needed > settings.image_memory_budget:
        need_mb = RUNTIME_BASELINE_MB + math.ceil(needed / (1024 * 1024))
        suggestion = min(10_240, 64 * math.ceil(need_mb / 64))
        raise ImageTooLarge(
            f"Resizing this {source_w}x{source_h} {source_format} needs about {need_mb} MB but the "
            f"function has {settings.memory_size_mb} MB; it was refused before decoding - raise the "
            f"function's memory size to at least {suggestion} MB, or lower MAX_INPUT_PIXELS to refuse "
            "such images sooner."
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
