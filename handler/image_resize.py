"""The image step of ImageResizeLambda: image bytes + settings -> resized image bytes.

No S3 here: lambda_function.py moves bytes between buckets, notebooks and tests call ``resize_image``
directly. ``_resize_opened`` runs the numbered steps: 1. limits from the header (pixels, memory),
2. reduced-scale decoding, 3. decode, 4. colour mode, 5. resample, 6. upright, 7. encode. What each
step does, and why, is in docs/handler.md. Pillow and the standard library only.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

from image_modes import has_alpha, normalise_mode, working_mode
from memory_budget import (  # noqa: F401 - MIB, RUNTIME_BASELINE_MB and the two memory calls are re-exported
    MIB,
    RUNTIME_BASELINE_MB,
    describe_source,
    estimate_bytes,
    memory_in_use,
    release_freed_memory_promptly,
)

# The decoders of the allow-list, imported once (during INIT in Lambda) rather than on the first
# image: Image.open() would otherwise import all ~40 of Pillow's plugins the first time it meets a
# format that preinit() does not load (WebP, TIFF). This way every image starts from the same
# memory, whatever the function processed before.
from PIL import (  # noqa: F401  (registered with Image.open by being imported)
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageColor,
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


# ------------------------------------------------------------------------------------------ the step


def resize_image(
    data: bytes, settings: ResizeSettings | None = None, *, bytes_in_use: int | None = None
) -> ResizedImage:
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


@dataclass
class _Plan:
    """What the header says and what the steps will do, decided before any pixel is decoded."""

    source_format: str
    source_mode: str
    source_size: tuple[int, int]  # as stored, before EXIF orientation
    animated: bool
    orientation: int  # EXIF orientation to apply (1 = none)
    target: tuple[int, int]  # output size as stored, before the orientation is applied
    out_format: str = "JPEG"
    keep_alpha: bool = False
    work_mode: str = "RGB"
    icc: bytes | None = None


def _resize_opened(im: Image.Image, data: bytes, settings: ResizeSettings, bytes_in_use: int) -> ResizedImage:
    plan = _read_header(im, settings)
    source_orientation = plan.orientation
    # 1. Limits, from the header only (nothing is decoded yet): pixels here, memory after step 2.
    _check_pixels(plan, settings)
    # 2. Reduced-scale decoding: libjpeg decodes at 1/2, 1/4 or 1/8 while the result is still at
    # least the target size. draft() only changes what load() will do; nothing is decoded yet.
    if plan.source_format in ("JPEG", "MPO"):
        request = _draft_request(*plan.source_size, plan.target)
        if request is not None:
            try:
                im.draft(im.mode, request)
            except Exception:  # noqa: BLE001 - decode at full size instead
                pass
    _choose_output(im, plan, settings)
    needed = _check_memory(im, data, plan, settings, bytes_in_use)
    # 3. Decode the first frame (animated GIF/PNG/WebP, MPO and multi-page TIFF: frame 0 only).
    decoded = _decode(im, plan, settings)
    # Each step below makes a new image; the one before is released at once, so that at most two
    # images are alive (this is what lets a 50 MP JPEG fit into 128 MB).
    # 4. Mode for the output: 8-bit, alpha kept or flattened, CMYK through its profile.
    try:
        converted, keep_icc = normalise_mode(
            im, plan.work_mode, plan.keep_alpha, settings.background, plan.icc
        )
    except (ValueError, OSError) as exc:
        raise UnsupportedFormat(
            f"The colour mode {plan.source_mode} of this {plan.source_format} cannot "
            f"be converted: {_describe(exc)}."
        ) from None
    work = _replace(im, im, converted)
    del converted  # or the full-size converted image would stay alive through the steps below
    # 5. Resample to the exact target size; skipped when the reduced-scale decode already has it.
    if work.size != plan.target:
        work = _replace(im, work, work.resize(plan.target, RESAMPLING_FILTERS[settings.resampling]))
    # 6. Upright.
    if plan.orientation != 1:
        work = _replace(im, work, work.transpose(_ORIENTATION_TRANSPOSE[plan.orientation]))
    # 7. Encode.
    content_type, extension, _ = OUTPUT_FORMATS[plan.out_format]
    return ResizedImage(
        data=_encode(work, plan, settings, keep_icc),
        format=plan.out_format,
        content_type=content_type,
        extension=extension,
        width=work.width,
        height=work.height,
        source_format=plan.source_format,
        source_mode=plan.source_mode,
        source_width=plan.source_size[0],
        source_height=plan.source_size[1],
        orientation=source_orientation,
        decoded_width=decoded[0],
        decoded_height=decoded[1],
        animated=plan.animated,
        icc_profile_kept=bool(keep_icc),
        estimated_peak_bytes=needed,
    )


def _replace(im: Image.Image, work: Image.Image, new: Image.Image) -> Image.Image:
    """The next step's image; the decoded source is closed as soon as something has replaced it (the
    images between are freed when the caller lets go of them)."""
    if new is not work and work is im:
        im.close()  # frees the decoded pixels; `im` is not used after this
    return new


def _read_header(im: Image.Image, settings: ResizeSettings) -> _Plan:
    """Format, mode, size, frames, orientation and target size: all from the header."""
    try:  # reads the second frame's header only (no pixels); the first frame stays current
        animated = bool(getattr(im, "is_animated", False))
    except Exception:  # noqa: BLE001 - a damaged second frame does not matter: only frame 0 is used
        animated = False
        im.seek(0)
    source_w, source_h = im.size
    if source_w < 1 or source_h < 1:
        raise CorruptImage(f"The header declares an empty {source_w}x{source_h} image.")
    orientation = _orientation(im)
    return _Plan(
        source_format=im.format or "unknown",
        source_mode=im.mode,
        source_size=(source_w, source_h),
        animated=animated,
        orientation=orientation,
        target=_stored_target(im.size, orientation, settings),
    )


def _stored_target(size: tuple[int, int], orientation: int, settings: ResizeSettings) -> tuple[int, int]:
    """The output size as stored (before the orientation is applied) for an image stored at ``size``."""
    swap = orientation in (5, 6, 7, 8)
    out_w, out_h = target_size(*((size[1], size[0]) if swap else size), settings)
    return (out_h, out_w) if swap else (out_w, out_h)


def _check_pixels(plan: _Plan, settings: ResizeSettings) -> None:
    source_w, source_h = plan.source_size
    pixels = source_w * source_h
    if pixels > settings.max_input_pixels:
        raise ImageTooLarge(
            f"The image is {source_w}x{source_h} ({pixels / 1e6:,.1f} MP), above "
            f"MAX_INPUT_PIXELS={settings.max_input_pixels:,}; it was refused before decoding - "
            "raise MAX_INPUT_PIXELS if such images are expected."
        )


def _choose_output(im: Image.Image, plan: _Plan, settings: ResizeSettings) -> None:
    """Output format, whether transparency is kept, and the 8-bit mode the image is worked in."""
    plan.icc = im.info.get("icc_profile") or None
    alpha = has_alpha(im)
    plan.out_format = _choose_output_format(plan.source_format, alpha, settings)
    plan.keep_alpha = plan.out_format in ("PNG", "WEBP") and alpha
    plan.work_mode = working_mode(im.mode, plan.keep_alpha)
    if plan.out_format == "WEBP" and plan.work_mode in ("L", "LA"):
        plan.work_mode = "RGBA" if plan.work_mode == "LA" else "RGB"  # WebP has no grey modes


def _check_memory(
    im: Image.Image, data: bytes, plan: _Plan, settings: ResizeSettings, bytes_in_use: int
) -> int:
    """What the steps will add to what the process holds, against the function's memory size; returns
    the predicted peak."""
    source_w, source_h = plan.source_size
    needed = bytes_in_use + estimate_bytes(
        im,
        data,
        full=plan.source_size,
        decoded=im.size,
        target=plan.target,
        work_mode=plan.work_mode,
        has_alpha=has_alpha(im),
        keep_alpha=plan.keep_alpha,
        rotate=plan.orientation != 1,
        out_format=plan.out_format,
        settings=settings,
    )
    if needed > settings.memory_size_mb * MIB:
        need_mb = math.ceil(needed / MIB)
        suggestion = min(10_240, 64 * math.ceil(need_mb / 64))
        raise ImageTooLarge(
            f"Resizing this {source_w}x{source_h} {describe_source(im, data)} needs about {need_mb} MB "
            f"but the function has {settings.memory_size_mb} MB; it was refused before decoding - raise "
            f"the function's memory size to at least {suggestion} MB, or lower MAX_INPUT_PIXELS to "
            "refuse such images sooner."
        )
    return needed


def _decode(im: Image.Image, plan: _Plan, settings: ResizeSettings) -> tuple[int, int]:
    """Decode the first frame; returns the size decoded at."""
    try:
        im.load()
    except Exception as exc:  # noqa: BLE001 - truncated/corrupt data in any decoder
        raise _decoder_failure(exc, f"{plan.source_format} image data") from None
    if plan.source_format == "TIFF":
        # Recent Pillow applies a TIFF's orientation itself while loading (and drops the tag);
        # older Pillow does not. Read it again now so it is applied exactly once either way.
        plan.orientation = _orientation(im)
        plan.target = _stored_target(im.size, plan.orientation, settings)
    return im.size


def _encode(work: Image.Image, plan: _Plan, settings: ResizeSettings, keep_icc: bytes | None) -> bytes:
    """Only the ICC profile is passed on: EXIF (GPS included), XMP and comments are not copied, and
    info is emptied so no encoder picks any of them up by itself."""
    work.info = {}
    params: dict = {}
    if keep_icc:
        params["icc_profile"] = keep_icc
    if plan.out_format == "JPEG":
        params["quality"] = settings.quality
    elif plan.out_format == "WEBP":
        params.update(quality=settings.quality, method=4)
    buf = io.BytesIO()
    try:
        work.save(buf, plan.out_format, **params)
    except (ValueError, OSError) as exc:
        raise UnsupportedFormat(
            f"The {plan.source_mode} {plan.source_format} could not be written as "
            f"{plan.out_format}: {_describe(exc)}."
        ) from None
    return buf.getvalue()


# ------------------------------------------------------------------------------------------- settings


def _env_str(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_int(
    environ: Mapping[str, str], name: str, default: int | None, minimum: int, maximum: int | None = None
) -> int | None:
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
    def from_environ(cls, environ: Mapping[str, str]) -> ResizeSettings:
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
TYPE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".apng",
        ".webp",
        ".gif",
        ".tif",
        ".tiff",
        ".bmp",
        ".dib",
        ".mpo",
        ".heic",
        ".heif",
        ".avif",
        ".jxl",
        ".jp2",
        ".j2k",
        ".ico",
        ".cur",
        ".svg",
        ".svgz",
        ".psd",
        ".xcf",
        ".eps",
        ".tga",
        ".pcx",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
        ".dng",
        ".cr2",
        ".cr3",
        ".nef",
        ".arw",
        ".orf",
        ".rw2",
        ".raf",
        ".raw",
        ".pdf",
        ".txt",
        ".zip",
        ".gz",
        ".html",
        ".htm",
        ".json",
        ".xml",
        ".csv",
        ".bin",
        ".dat",
        ".mp4",
        ".mov",
    }
)


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
    picks one per image) and the extensions' case: tests/unit/handler/test_output_key_rule.py proves it over
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
        key = key[: -len(extension)]


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


# ------------------------------------------------------------------------------ opening untrusted bytes


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
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        i += 2 + length
    return None


def _classify_unidentified(data: bytes) -> ImageRejected:
    """Pillow's allow-listed openers all declined the bytes: say why as precisely as we can."""
    for offset, magic, name in _KNOWN_OTHER_FORMATS:
        if data[offset : offset + len(magic)] == magic:
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
    return NotAnImage(f"The object is not an image in an accepted format ({', '.join(ACCEPTED_FORMATS)}).")


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


def _choose_output_format(source_format: str, has_alpha: bool, settings: ResizeSettings) -> str:
    if settings.output_format != "AUTO":
        return settings.output_format
    if source_format in ("WEBP", "PNG"):
        return source_format
    if source_format in ("JPEG", "MPO"):
        return "JPEG"
    return "PNG" if has_alpha else "JPEG"
