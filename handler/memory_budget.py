"""How much memory resizing an image will take, predicted from its header before anything is decoded.

Lambda ends the runtime when its memory passes the function's memory size (Runtime.OutOfMemory). The image
step asks ``estimate_bytes`` what its steps will add to what the process holds (``memory_in_use``) and
refuses an image that would not fit. The model - bytes per pixel of Pillow's modes, and what libjpeg,
libwebp, libtiff and the BMP decoder hold besides the pixels they return - is explained in docs/handler.md.
Only the standard library and Pillow are used.
"""

from __future__ import annotations

import ctypes
import math
import os
import struct
from dataclasses import dataclass

from image_modes import HIGH_BIT_GREY, working_mode
from PIL import Image

# What the runtime itself occupies before the first image: Python, the runtime client, boto3 with
# an S3 client and Pillow with the allow-list's plugins. 52 MB is the resident memory measured for
# exactly that on Linux x86_64 (``run_local.py bench --only image`` prints it). It stands in for
# ``memory_in_use()`` where that cannot be read (not Linux), and in ``resize_image`` called without
# ``memory_in_use`` (notebooks, tests): there it plays a fresh execution environment.
RUNTIME_BASELINE_MB = 52
MIB = 1024 * 1024

# Bytes per pixel Pillow uses in memory for each mode (RGB is stored as 4 bytes per pixel).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}

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
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        body = data[i + 4 : i + 2 + length]
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
        fourcc = data[i : i + 4]
        size = int.from_bytes(data[i + 4 : i + 8], "little")
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


def _decoder_bytes(
    im: Image.Image, data: bytes, full: tuple[int, int], decoded: tuple[int, int]
) -> tuple[int, int]:
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


def describe_source(im: Image.Image, data: bytes) -> str:
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


def estimate_bytes(
    im: Image.Image,
    data: bytes,
    *,
    full: tuple[int, int],
    decoded: tuple[int, int],
    target: tuple[int, int],
    work_mode: str,
    has_alpha: bool,
    keep_alpha: bool,
    rotate: bool,
    out_format: str,
    settings,
) -> int:
    """Upper estimate, from the header only, of the memory the image step's stages add to what the
    process holds before them (the downloaded bytes included), in bytes. Walks the stages in the
    order ``image_resize`` runs them, with the images and buffers alive at each moment."""
    ledger = _Ledger()
    # 0. An ICC profile is in info, joined from its segments, and written again by the encoder; a
    # CMYK profile is also parsed by LittleCMS for the transform to sRGB.
    icc = len(im.info.get("icc_profile") or b"")
    ledger.hold(4 * icc + (MIB if icc and im.mode == "CMYK" else 0))
    # 1. Decode.
    decoded_image = _pillow_bytes(im.mode, decoded)
    transient, held = _decoder_bytes(im, data, full, decoded)
    ledger.during(decoded_image + transient + held)
    ledger.hold(decoded_image + held)
    if im.format == "TIFF" and rotate:
        ledger.during(decoded_image)  # Pillow applies a TIFF's orientation in load(), into a new image
    # 2. Mode.
    source = _mode_bytes(ledger, im.mode, decoded, decoded_image, work_mode, has_alpha, keep_alpha)
    # 3. Resample.
    out = _resample_bytes(ledger, decoded, target, work_mode, source, settings.resampling)
    # 4. Upright.
    if rotate:
        ledger.during(out)
    # 5. Encode.
    ledger.during(_encoder_bytes(target, work_mode, out_format, settings.quality))
    return ledger.peak + _FIXED_OVERHEAD


def _mode_bytes(
    ledger: _Ledger,
    mode: str,
    decoded: tuple[int, int],
    decoded_image: int,
    work_mode: str,
    has_alpha: bool,
    keep_alpha: bool,
) -> int:
    """Each conversion of ``image_modes.normalise_mode`` makes a new image while the one before is
    alive; the decoded image is closed once something has replaced it. Returns the bytes of the image
    the next stage reads."""
    px = decoded[0] * decoded[1]
    work_bpp = 1 if work_mode == "L" else 4
    alpha_mode = working_mode(mode, has_alpha)
    current = decoded_image
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
    elif mode in HIGH_BIT_GREY:
        # I;16: point() keeps 2 bytes, then L; the others: convert("I") 4, point() 4, then L
        replace_with(px, px * (2 if mode == "I;16" else 8))
        if alpha_mode == "LA" and mode != "F":  # colour key: mask from two clipped differences
            replace_with(4 * px if keep_alpha else px, 14 * px)
    else:
        if mode in ("P", "PA", "La", "RGBa") or mode != alpha_mode:
            replace_with(_pillow_bytes("L" if alpha_mode == "L" else "RGBA", decoded))
        if alpha_mode in ("LA", "RGBA") and not keep_alpha:  # flatten: background, alpha (and grey)
            replace_with(px if alpha_mode == "LA" else 4 * px, 2 * px if alpha_mode == "LA" else px)
    if work_bpp == 4 and working_mode(mode, False) == "L":
        replace_with(4 * px)  # WebP output has no grey modes: to RGB(A)
    if converted:
        ledger.release(decoded_image)
    return current


def _resample_bytes(
    ledger: _Ledger,
    decoded: tuple[int, int],
    target: tuple[int, int],
    work_mode: str,
    source: int,
    resampling: str,
) -> int:
    """Two passes: a horizontal one into a temporary image, then a vertical one; images with alpha
    are premultiplied first and converted back after. Returns the bytes of the resampled image."""
    if decoded == target:
        return source
    tw, th = target
    dw, dh = decoded
    work_bpp = 1 if work_mode == "L" else 4
    out = tw * th * work_bpp
    temp = tw * dh * work_bpp if (dw != tw and dh != th) else 0
    support = {"NEAREST": 0, "BOX": 0.5, "BILINEAR": 1, "HAMMING": 1, "BICUBIC": 2, "LANCZOS": 3}
    ratio = max(dw / tw, dh / th, 1.0)
    coefficients = (tw + th) * (2 * math.ceil(support[resampling] * ratio) + 1) * 8 * 2
    if resampling == "NEAREST":
        temp = coefficients = 0
    if work_mode in ("LA", "RGBA") and resampling != "NEAREST":  # premultiplied
        ledger.during(4 * dw * dh + temp + coefficients + out)
        ledger.during(out + out)  # converted back from premultiplied
    else:
        ledger.during(temp + coefficients + out)
    ledger.hold(out)
    ledger.release(source)
    return out


def _encoder_bytes(target: tuple[int, int], work_mode: str, out_format: str, quality: int) -> int:
    """The output bytes (as JPEG, random noise takes 0.6 bytes per pixel at quality 75, 1.2 at 95, 2.0
    at 100; PNG may not compress at all; BytesIO grows by 1/8 more than it needs) and the encoder's
    own buffers."""
    tw, th = target
    pixels = tw * th
    if out_format == "PNG":
        encoded = pixels * (1 if work_mode == "L" else 3 if work_mode == "RGB" else 4) * 9 // 8
    else:
        encoded = int(pixels * (0.75 if quality <= 80 else 1.4 if quality <= 95 else 2.3))
    if out_format == "WEBP":
        # libwebp's pictures and token buffers, which grow with the quality (measured: 7.5 bytes per
        # pixel at 75, 13 at 95); an alpha plane is compressed losslessly, with hash chains of its own
        # (measured: 39-50 bytes per pixel).
        encoded += pixels * (8 + max(0, quality - 70) * 3 // 10)
        if work_mode in ("LA", "RGBA"):
            encoded += 6 * MIB + pixels * 36
    return encoded + max(65536, tw * 4) + tw * 3 * 16 * 4  # the encoder's chunk and row buffers
