"""Colour modes: what Pillow decoded -> the 8-bit mode the output is resampled and written in.

Transparency is kept (LA/RGBA) or flattened onto a background colour, CMYK goes to sRGB through its ICC
profile, 16-bit, 32-bit and floating-point greys become 8-bit L. Used by image_resize.py and, for the
sizes of the images these conversions make, by memory_budget.py.
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageChops, ImageCms

HIGH_BIT_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N", "I;16S", "F")


def has_alpha(im: Image.Image) -> bool:
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    return im.info.get("transparency") is not None and (
        im.mode in ("P", "L", "RGB", "1") or im.mode in HIGH_BIT_GREY
    )


def working_mode(mode: str, alpha: bool) -> str:
    """The 8-bit mode resampling happens in: L, LA, RGB or RGBA."""
    grey = mode in ("1", "L", "LA", "La") or mode in HIGH_BIT_GREY
    if grey:
        return "LA" if alpha else "L"
    return "RGBA" if alpha else "RGB"


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
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(
                im,
                src,
                ImageCms.createProfile("sRGB"),
                outputMode="RGB",
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
        grey = math.floor(0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2] + 0.5)
        base = Image.new("L", im.size, grey)
        base.paste(im.getchannel("L"), mask=im.getchannel("A"))
        return base
    base = Image.new("RGB", im.size, background)
    base.paste(im, mask=im.getchannel("A"))
    return base


def normalise_mode(
    im: Image.Image, work_mode: str, keep_alpha: bool, background: tuple, icc: bytes | None
) -> tuple[Image.Image, bytes | None]:
    """Convert the decoded image to ``work_mode`` (L / LA / RGB / RGBA), flattening alpha onto the
    background when the output keeps none. Returns the image and the ICC profile still valid for it."""
    mode = im.mode
    alpha_mode = working_mode(mode, has_alpha(im))  # the mode that holds every channel
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc), None  # now sRGB: no profile needed
    if mode in HIGH_BIT_GREY:
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
