"""Make the sample images the sandbox, the tests and the README use.

Run:  .venv/bin/python sample_images/make_samples.py

Everything is drawn with Pillow from fixed seeds, so running it again writes the
same bytes (with the same Pillow build: JPEG and font rendering come from the
libjpeg/FreeType inside the Pillow wheel). No photo is downloaded or copied in.

Each file reproduces one thing an upload to `source-image-bucket123` can be, and
most of them break the guide's original handler in a different way; see
README.md beside this script.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

HERE = Path(__file__).resolve().parent

# EXIF tag numbers (from the EXIF 2.32 spec; Pillow exposes them as ExifTags.Base).
ORIENTATION = 0x0112
MAKE = 0x010F
MODEL = 0x0110
DATETIME = 0x0132
SOFTWARE = 0x0131
GPS_IFD = 0x8825


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font (Aileron via FreeType), so no font file is needed."""
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError):  # Pillow built without FreeType: small bitmap font
        return ImageFont.load_default()


def noise(size: tuple[int, int], seed: int, amplitude: int) -> Image.Image:
    """Grey sensor-like noise centred on 128, +/- `amplitude`, from a fixed seed.

    random.Random(seed).randbytes is deterministic across platforms and Python
    versions >= 3.9 (Image.effect_noise uses C rand() and is not).
    """
    w, h = size
    raw = Image.frombytes("L", size, random.Random(seed).randbytes(w * h))
    scale = amplitude / 127.5
    return raw.point(lambda v: int(round(128 + (v - 127.5) * scale)))


def add_noise(img: Image.Image, seed: int, amplitude: int = 6) -> Image.Image:
    """Add luminance noise so JPEG compression behaves like it does on a photo."""
    n = noise(img.size, seed, amplitude).convert("RGB")
    # add(a, b, scale=1, offset=-128): every channel gets (noise - 128).
    return ImageChops.add(img, n, scale=1.0, offset=-128)


def vertical_gradient(
    size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> Image.Image:
    w, h = size
    column = Image.new("RGB", (1, h))
    for y in range(h):
        t = y / max(h - 1, 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    return column.resize(size, Image.Resampling.NEAREST)


def landscape(size: tuple[int, int], seed: int) -> Image.Image:
    """A photo-like outdoor scene: sky, sun, two mountain ranges, lake, trees."""
    w, h = size
    rng = random.Random(seed)
    horizon = int(h * 0.62)
    img = vertical_gradient((w, h), (70, 130, 205), (205, 225, 240))
    draw = ImageDraw.Draw(img)

    # Sun with a soft halo.
    sx, sy, r = int(w * 0.76), int(h * 0.2), int(min(w, h) * 0.07)
    halo = Image.new("L", (w, h), 0)
    ImageDraw.Draw(halo).ellipse((sx - 3 * r, sy - 3 * r, sx + 3 * r, sy + 3 * r), fill=110)
    halo = halo.filter(ImageFilter.GaussianBlur(r))
    img.paste((255, 240, 200), mask=halo)
    draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(255, 246, 215))

    # Clouds: blurred white ellipses.
    clouds = Image.new("L", (w, h), 0)
    cd = ImageDraw.Draw(clouds)
    for _ in range(7):
        cx, cy = rng.randrange(w), rng.randrange(int(h * 0.05), int(h * 0.35))
        for _ in range(5):
            rx, ry = rng.randrange(w // 30, w // 12), rng.randrange(h // 60, h // 25)
            ox, oy = rng.randrange(-w // 20, w // 20), rng.randrange(-h // 60, h // 60)
            cd.ellipse((cx + ox - rx, cy + oy - ry, cx + ox + rx, cy + oy + ry), fill=200)
    img.paste((250, 250, 252), mask=clouds.filter(ImageFilter.GaussianBlur(w // 120 + 2)))

    # Two mountain ranges, far (bluish) and near (green-grey).
    for base, height, colour, step in (
        (horizon, 0.30, (110, 130, 160), w // 14),
        (horizon, 0.20, (70, 100, 80), w // 22),
    ):
        points = [(0, base)]
        x = 0
        while x <= w:
            points.append((x, base - int(h * height * (0.35 + 0.65 * rng.random()))))
            x += step
        points += [(w, base), (w, h), (0, h)]
        draw.polygon(points, fill=colour)

    # Lake below the horizon: a darker gradient with reflected-sun stripes.
    lake = vertical_gradient((w, h - horizon), (60, 95, 130), (25, 45, 70))
    img.paste(lake, (0, horizon))
    for i in range(12):
        y = horizon + 6 + i * (h - horizon) // 14
        half = int(r * (1.4 - i * 0.09))
        if half > 2:
            draw.line((sx - half, y, sx + half, y), fill=(230, 215, 170), width=max(2, h // 300))

    # Trees on the near shore.
    for _ in range(18):
        tx = rng.randrange(w)
        if abs(tx - sx) < r * 2:
            continue
        th = rng.randrange(h // 10, h // 5)
        tw = th // 3
        ty = horizon + rng.randrange(0, h // 40)
        draw.rectangle((tx - tw // 10, ty - th // 5, tx + tw // 10, ty), fill=(60, 40, 25))
        draw.polygon(
            [(tx, ty - th), (tx - tw, ty - th // 5), (tx + tw, ty - th // 5)],
            fill=(25 + rng.randrange(20), 70 + rng.randrange(30), 35),
        )

    # A little softness like a real lens, then sensor noise.
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    return add_noise(img, seed + 1)


def label(img: Image.Image, text: str, size: int, xy: tuple[int, int]) -> None:
    """Caption with a dark outline so it is legible on any background."""
    ImageDraw.Draw(img).text(
        xy,
        text,
        font=font(size),
        fill=(255, 255, 255),
        stroke_width=max(2, size // 14),
        stroke_fill=(0, 0, 0),
    )


def make_test_jpg() -> Image.Image:
    img = landscape((1600, 1200), seed=1)
    label(img, "test.jpg  1600 x 1200", 56, (40, 1100))
    return img


def make_transparent_logo() -> Image.Image:
    """RGBA with a fully transparent background and a half-transparent ring."""
    size = 512
    scale = 4  # draw large, shrink: antialiased edges, i.e. many partial alphas
    big = Image.new("RGBA", (size * scale, size * scale), (0, 0, 0, 0))
    d = ImageDraw.Draw(big)
    c = size * scale // 2
    d.ellipse((c - 900, c - 900, c + 900, c + 900), fill=(255, 153, 0, 110))  # ring
    d.ellipse((c - 720, c - 720, c + 720, c + 720), fill=(0, 0, 0, 0))
    d.ellipse((c - 640, c - 640, c + 640, c + 640), fill=(35, 47, 62, 255))  # disc
    d.polygon(
        [
            (c - 330, c + 300),
            (c - 60, c - 380),
            (c + 60, c - 380),
            (c + 330, c + 300),
            (c + 180, c + 300),
            (c, c - 170),
            (c - 180, c + 300),
        ],
        fill=(255, 153, 0, 255),
    )
    logo = big.resize((size, size), Image.Resampling.LANCZOS)
    ImageDraw.Draw(logo).text(
        (size // 2, size - 70), "LOGO", font=font(44), fill=(35, 47, 62, 255), anchor="mm"
    )
    return logo


def up_arrow(img: Image.Image) -> None:
    """A big red arrow and the word UP, pointing to the top of the upright picture."""
    w, h = img.size
    d = ImageDraw.Draw(img)
    cx, top = w // 2, int(h * 0.12)
    shaft_w, head_w, head_h, bottom = w // 10, w // 3, h // 6, int(h * 0.62)
    d.polygon(
        [
            (cx, top),
            (cx + head_w // 2, top + head_h),
            (cx + shaft_w // 2, top + head_h),
            (cx + shaft_w // 2, bottom),
            (cx - shaft_w // 2, bottom),
            (cx - shaft_w // 2, top + head_h),
            (cx - head_w // 2, top + head_h),
        ],
        fill=(220, 30, 30),
        outline=(255, 255, 255),
        width=6,
    )
    d.text(
        (cx, int(h * 0.74)),
        "UP",
        font=font(h // 8),
        fill=(220, 30, 30),
        anchor="mm",
        stroke_width=8,
        stroke_fill=(255, 255, 255),
    )
    d.text(
        (cx, int(h * 0.86)),
        "EXIF Orientation 6",
        font=font(h // 26),
        fill=(255, 255, 255),
        anchor="mm",
        stroke_width=3,
        stroke_fill=(0, 0, 0),
    )


def make_portrait_exif6() -> tuple[Image.Image, Image.Exif]:
    """Stored 1200x900 (landscape); shown 900x1200 (portrait) by EXIF-aware viewers.

    A phone held upright writes the sensor's landscape pixels plus Orientation=6
    ("rotate 90 degrees clockwise to display"). So: draw the upright portrait,
    then store it rotated 90 degrees counter-clockwise.
    """
    upright = landscape((900, 1200), seed=6)
    up_arrow(upright)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "SampleCam"
    exif[MODEL] = "Portrait 6"
    exif[DATETIME] = "2026:11:27 01:25:09"
    # Self-check: what a viewer does must give back the upright picture.
    stored.info["exif"] = exif.tobytes()
    assert ImageOps.exif_transpose(stored.copy()).tobytes() == upright.tobytes()
    del stored.info["exif"]
    return stored, exif


def make_holiday_photo() -> tuple[Image.Image, Image.Exif]:
    """An ordinary photo whose name has a space, carrying camera and GPS EXIF."""
    img = landscape((1024, 768), seed=7)
    label(img, "holiday photo.jpg", 40, (30, 700))
    exif = Image.Exif()
    exif[MAKE] = "SampleCam"
    exif[MODEL] = "Holiday"
    exif[DATETIME] = "2026:08:14 18:02:31"
    # A location (a lake shore in the Alps), like a phone records it. EXIF and GPS
    # survive a Pillow save unless the handler drops them.
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (46.0, 30.0, 36.0)  # GPSLatitude
    gps[3] = "E"  # GPSLongitudeRef
    gps[4] = (7.0, 43.0, 12.0)  # GPSLongitude
    return img, exif


def make_palette_gif() -> Image.Image:
    """Mode P (a 16-colour palette) with one colour marked transparent."""
    img = Image.new("P", (320, 240), 0)
    palette = [0, 0, 0]
    for i in range(1, 16):
        hue = i / 15
        palette += [int(127 + 127 * math.cos(2 * math.pi * (hue + k / 3))) for k in range(3)]
    img.putpalette(palette)
    d = ImageDraw.Draw(img)
    for i in range(1, 16):
        d.rectangle(((i - 1) * 20, 0, i * 20 - 1, 180), fill=i)
    d.ellipse((110, 60, 210, 160), fill=0)
    img.info["transparency"] = 0
    return img


def make_gray16() -> Image.Image:
    """16-bit greyscale (mode I;16), as scanners and scientific cameras write."""
    w, h = 256, 128
    img = Image.new("I;16", (w, h))
    img.putdata([(x * 65535 // (w - 1)) for _ in range(h) for x in range(w)])
    return img


def write_all(out: Path = HERE) -> list[Path]:
    written = []

    def save(name: str, img: Image.Image, **kwargs) -> None:
        path = out / name
        img.save(path, **kwargs)
        written.append(path)

    save("test.jpg", make_test_jpg(), quality=85, optimize=True)
    save("transparent-logo.png", make_transparent_logo(), optimize=True)
    stored, exif = make_portrait_exif6()
    save("portrait-exif-6.jpg", stored, quality=85, optimize=True, exif=exif)
    holiday, exif = make_holiday_photo()
    save("holiday photo.jpg", holiday, quality=85, optimize=True, exif=exif)
    save("pixel.png", Image.new("RGB", (1, 1), (255, 153, 0)))
    save("palette.gif", make_palette_gif())
    save("gray-16bit.png", make_gray16())
    return written


def main() -> int:
    total = 0
    for path in write_all():
        with Image.open(path) as im:
            shown = ImageOps.exif_transpose(im).size if im.getexif().get(ORIENTATION) else im.size
            desc = f"{im.format} {im.mode} {im.size[0]}x{im.size[1]}"
            if shown != im.size:
                desc += f" (shown {shown[0]}x{shown[1]})"
        size = path.stat().st_size
        total += size
        print(f"{path.name:24} {size / 1024:8.1f} KB  {desc}")
    print(f"{'total':24} {total / 1024:8.1f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
