"""The pure image step (handler/image_resize.py) on small fixtures generated at test time."""

from __future__ import annotations

import io

import pytest
from image_resize import (
    CorruptImage,
    ImageRejected,
    ImageTooLarge,
    NotAnImage,
    ResizeSettings,
    UnsupportedFormat,
    resize_image,
)
from PIL import Image, ImageChops, ImageStat

from helpers import images as fx

SAMPLES = fx.every_mode_samples()


def open_output(result) -> Image.Image:
    im = Image.open(io.BytesIO(result.data))
    im.load()
    return im


def near(pixel, expected, tolerance=24) -> bool:
    pixel = pixel if isinstance(pixel, tuple) else (pixel,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected))


# ------------------------------------------------------------------------------ every mode and format


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_mode_and_format_becomes_a_half_size_jpeg_that_opens(name):
    data, _what = SAMPLES[name]
    result = resize_image(data)
    out = open_output(result)
    assert out.format == "JPEG" == result.format
    assert result.content_type == Image.MIME[out.format] == "image/jpeg"
    assert result.extension == ".jpg"
    assert out.mode in ("L", "RGB")
    source = Image.open(io.BytesIO(data))
    expected = ((source.width + 1) // 2, (source.height + 1) // 2)
    assert out.size == (result.width, result.height) == expected


@pytest.mark.parametrize("name", ["animated.gif", "animated.webp", "mpo.jpg", "multipage.tiff"])
def test_multi_frame_images_give_their_first_frame(name):
    result = resize_image(SAMPLES[name][0])
    out = open_output(result).convert("RGB")
    assert result.animated
    # frame 0 is the test card (red top-left); frame 1 is plain yellow
    assert near(out.getpixel((1, 1)), fx.RED, 40)


@pytest.mark.parametrize(
    "output_format, content_type, extension",
    [
        ("JPEG", "image/jpeg", ".jpg"),
        ("PNG", "image/png", ".png"),
        ("WEBP", "image/webp", ".webp"),
    ],
)
def test_content_type_and_extension_match_the_bytes_for_each_output_format(
    output_format, content_type, extension
):
    result = resize_image(SAMPLES["rgb.png"][0], ResizeSettings(output_format=output_format))
    out = open_output(result)
    assert out.format == output_format
    assert Image.MIME[out.format] == content_type == result.content_type
    assert result.extension == extension


# ------------------------------------------------------------------------------------------- colours


def test_transparency_is_flattened_onto_white_for_jpeg():
    im = Image.new("RGBA", (20, 20), (255, 0, 0, 0))  # fully transparent red
    im.paste((0, 0, 255, 255), (0, 0, 10, 20))  # opaque blue left half
    out = open_output(resize_image(fx.encode(im, "PNG")))
    assert near(out.getpixel((1, 5)), (0, 0, 255))
    assert near(out.getpixel((8, 5)), (255, 255, 255))


def test_transparency_background_colour_is_configurable():
    im = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    out = open_output(resize_image(fx.encode(im, "PNG"), ResizeSettings(background=(0, 0, 0))))
    assert near(out.getpixel((5, 5)), (0, 0, 0))


def test_palette_transparency_is_flattened_not_turned_black():
    im = Image.new("P", (20, 20), 0)
    im.putpalette([0, 0, 0, 0, 200, 0] + [0] * (256 * 3 - 6))
    im.paste(1, (0, 0, 10, 20))
    out = open_output(resize_image(fx.encode(im, "GIF", transparency=0)))
    assert near(out.getpixel((1, 5)), (0, 200, 0))
    assert near(out.getpixel((8, 5)), (255, 255, 255))  # index 0 (black) was transparent


def test_grey_alpha_is_flattened_to_grey():
    im = Image.new("LA", (20, 20), (0, 0))
    im.paste((40, 255), (0, 0, 10, 20))
    out = open_output(resize_image(fx.encode(im, "PNG")))
    assert out.mode == "L"
    assert near(out.getpixel((1, 5)), 40)
    assert near(out.getpixel((8, 5)), 255)


def test_rgb_colour_key_transparency_is_flattened():
    im = Image.new("RGB", (20, 20), (10, 20, 30))
    im.paste((250, 0, 0), (0, 0, 10, 20))
    out = open_output(resize_image(fx.encode(im, "PNG", transparency=(10, 20, 30))))
    assert near(out.getpixel((1, 5)), (250, 0, 0))
    assert near(out.getpixel((8, 5)), (255, 255, 255))


@pytest.mark.parametrize("output_format", ["PNG", "WEBP"])
def test_transparency_is_kept_when_the_output_format_supports_it(output_format):
    im = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    im.paste((0, 0, 255, 255), (0, 0, 10, 20))
    out = open_output(resize_image(fx.encode(im, "PNG"), ResizeSettings(output_format=output_format)))
    assert out.mode == "RGBA"
    assert out.getpixel((1, 5))[3] == 255
    assert out.getpixel((8, 5))[3] == 0


def test_cmyk_jpeg_keeps_its_colours():
    im = Image.new("CMYK", (16, 16), (255, 0, 0, 0))  # pure cyan
    im.paste((0, 255, 0, 0), (0, 0, 8, 16))  # pure magenta on the left
    out = open_output(resize_image(fx.encode(im, "JPEG", quality=95)))
    assert out.mode == "RGB"
    assert near(out.getpixel((1, 4)), (255, 0, 255), 40)
    assert near(out.getpixel((6, 4)), (0, 255, 255), 40)


def test_sixteen_bit_grey_is_scaled_to_eight_bit_not_clipped():
    im = Image.new("I;16", (10, 10), 200 * 257)  # 51400 of 65535 = 200 of 255
    out = open_output(resize_image(fx.encode(im, "PNG")))
    assert out.mode == "L"
    assert near(out.getpixel((2, 2)), 200, 2)


def test_sixteen_bit_grey_with_transparent_colour_key_is_flattened():
    im = Image.new("I;16", (20, 20), 1000)
    im.paste(100 * 257, (0, 0, 10, 20))
    out = open_output(resize_image(fx.encode(im, "PNG", transparency=1000)))
    assert near(out.getpixel((1, 5)), 100, 3)
    assert near(out.getpixel((8, 5)), 255, 3)


def test_float_image_in_zero_to_one_is_scaled_to_eight_bit():
    im = Image.new("F", (10, 10), 0.5)
    out = open_output(resize_image(fx.encode(im, "TIFF")))
    assert near(out.getpixel((2, 2)), 128, 2)


def test_one_bit_image_is_resampled_as_grey():
    im = Image.new("1", (20, 20), 0)
    im.paste(1, (0, 0, 10, 20))
    out = open_output(resize_image(fx.encode(im, "PNG")))
    assert out.mode == "L"
    assert near(out.getpixel((1, 5)), 255) and near(out.getpixel((8, 5)), 0)


def test_icc_profile_is_kept():
    result = resize_image(SAMPLES["icc.jpg"][0])
    assert result.icc_profile_kept
    assert open_output(result).info.get("icc_profile") == fx.srgb_icc()


def test_grey_profile_is_not_attached_to_an_rgb_output():
    grey_card = fx.card_image(20, 20).convert("L")
    rgb_profile = fx.srgb_icc()
    result = resize_image(fx.encode(grey_card, "PNG", icc_profile=rgb_profile))
    # an RGB profile on a grey image does not describe it any more: dropped, not misapplied
    assert not result.icc_profile_kept
    assert "icc_profile" not in open_output(result).info


def test_exif_gps_xmp_and_comment_are_not_copied():
    data = fx.jpeg_with_gps_and_xmp()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the fixture does carry GPS
    result = resize_image(data)
    out = open_output(result)
    assert not out.getexif()
    assert "exif" not in out.info and "xmp" not in out.info and "comment" not in out.info
    for marker in (b"Exif\x00\x00", b"FixtureCam", b"secret place", b"GPSLatitude", b"xmpmeta"):
        assert marker not in result.data


@pytest.mark.parametrize("output_format", ["PNG", "WEBP"])
def test_exif_is_not_copied_into_png_or_webp_either(output_format):
    result = resize_image(fx.jpeg_with_gps_and_xmp(), ResizeSettings(output_format=output_format))
    assert b"FixtureCam" not in result.data and b"xmpmeta" not in result.data
    assert not open_output(result).getexif()


# --------------------------------------------------------------------------------------- orientation


def assert_upright_card(out: Image.Image, size):
    assert out.size == size
    w, h = out.size
    rgb = out.convert("RGB")
    assert near(rgb.getpixel((1, 1)), fx.RED, 40), "red corner must be top-left"
    assert near(rgb.getpixel((w - 2, 1)), fx.BLUE, 40), "blue corner must be top-right"
    assert near(rgb.getpixel((w // 2, h - 2)), fx.GREEN, 40), "green band must be at the bottom"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_so_the_output_is_upright(orientation):
    result = resize_image(fx.oriented_jpeg(orientation, 64, 48))
    assert result.orientation == orientation
    assert_upright_card(open_output(result), (32, 24))


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_orientation_is_applied_for_other_formats_too(fmt):
    result = resize_image(fx.oriented_jpeg(6, 64, 48, fmt=fmt))
    assert result.orientation == 6
    assert_upright_card(open_output(result), (32, 24))


def test_output_has_no_orientation_tag_left_to_apply_twice():
    out = open_output(resize_image(fx.oriented_jpeg(6)))
    assert out.getexif().get(0x0112) in (None, 1)


# ------------------------------------------------------------------------------------------- geometry


@pytest.mark.parametrize(
    "size, expected",
    [
        ((1, 1), (1, 1)),
        ((1, 2), (1, 1)),
        ((3, 1), (2, 1)),
        ((2, 2), (1, 1)),
        ((1801, 3), (901, 2)),
    ],
)
def test_no_side_ever_becomes_zero(size, expected):
    result = resize_image(fx.encode(Image.new("RGB", size, (9, 9, 9)), "PNG"))
    assert (result.width, result.height) == expected
    assert open_output(result).size == expected


def test_tiny_scale_still_gives_one_pixel():
    result = resize_image(fx.encode(Image.new("RGB", (10, 3)), "PNG"), ResizeSettings(scale=0.01))
    assert (result.width, result.height) == (1, 1)


def test_maximum_width_and_height_fit_the_output_keeping_aspect_ratio():
    data = fx.encode(fx.card_image(400, 100), "PNG")
    assert (lambda r: (r.width, r.height))(resize_image(data, ResizeSettings(max_width=50))) == (50, 13)
    assert (lambda r: (r.width, r.height))(resize_image(data, ResizeSettings(max_height=20))) == (80, 20)
    # the scale still applies when it is the smaller of the two
    assert (lambda r: (r.width, r.height))(resize_image(data, ResizeSettings(max_width=1000))) == (200, 50)


def test_jpeg_is_decoded_at_reduced_scale_then_resampled_to_the_exact_size():
    data = fx.encode(fx.photo_like(400, 300), "JPEG")
    half = resize_image(data)
    assert (half.decoded_width, half.decoded_height) == (200, 150)  # libjpeg did the halving
    quarter = resize_image(data, ResizeSettings(scale=0.25))
    assert (quarter.decoded_width, quarter.decoded_height) == (100, 75)
    third = resize_image(data, ResizeSettings(scale=1 / 3))
    assert (third.decoded_width, third.decoded_height) == (200, 150)  # 1/2 is the largest >= 1/3
    assert (third.width, third.height) == (133, 100)


def test_odd_sized_jpeg_still_uses_half_scale_decoding():
    result = resize_image(fx.encode(fx.photo_like(311, 451), "JPEG"))
    assert (result.decoded_width, result.decoded_height) == (156, 226) == (result.width, result.height)


def test_resampling_filter_setting_is_used():
    checker = Image.new("L", (64, 64), 0)
    for x in range(0, 64, 2):
        checker.paste(255, (x, 0, x + 1, 64))
    data = fx.encode(checker, "PNG")
    nearest = open_output(resize_image(data, ResizeSettings(resampling="NEAREST", output_format="PNG")))
    lanczos = open_output(resize_image(data, ResizeSettings(resampling="LANCZOS", output_format="PNG")))
    assert set(nearest.get_flattened_data()) <= {0, 255}
    assert any(20 < v < 235 for v in lanczos.get_flattened_data())


def test_quality_setting_changes_the_jpeg_size():
    data = fx.encode(fx.photo_like(200, 150), "PNG")
    low = resize_image(data, ResizeSettings(quality=20))
    high = resize_image(data, ResizeSettings(quality=95))
    assert len(low.data) < len(high.data)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("rgb.jpg", "JPEG"),
        ("mpo.jpg", "JPEG"),
        ("rgb.png", "PNG"),
        ("rgba.png", "PNG"),
        ("rgb.webp", "WEBP"),
        ("rgb.bmp", "JPEG"),
        ("cmyk.tiff", "JPEG"),
        ("p_trns.gif", "PNG"),
        ("animated.gif", "JPEG"),
    ],
)
def test_auto_output_format_keeps_web_formats_and_transparency(name, expected):
    result = resize_image(SAMPLES[name][0], ResizeSettings(output_format="AUTO"))
    assert result.format == expected == open_output(result).format


def test_output_matches_what_pillow_would_give_for_a_full_decode():
    """Reduced-scale decoding is a shortcut, not a different picture."""
    photo = fx.photo_like(800, 600)
    data = fx.encode(photo, "JPEG", quality=95)
    ours = open_output(resize_image(data, ResizeSettings(quality=95)))
    reference = Image.open(io.BytesIO(data)).convert("RGB").resize(ours.size, Image.Resampling.LANCZOS)
    diff = ImageStat.Stat(ImageChops.difference(ours, reference)).mean
    assert max(diff) < 4, diff


# ------------------------------------------------------------------------------------- limits, errors


def test_decompression_bomb_is_refused_from_the_header():
    with pytest.raises(ImageTooLarge, match="MAX_INPUT_PIXELS"):
        resize_image(fx.png_header_only(100_000, 100_000))


def test_image_above_max_input_pixels_is_refused_before_decoding():
    # 12000 x 12000 is under Pillow's own error threshold but above the default MAX_INPUT_PIXELS. The
    # file has no pixel data: decoding would raise CorruptImage, so ImageTooLarge proves the check
    # ran from the header.
    with pytest.raises(ImageTooLarge, match=r"MAX_INPUT_PIXELS=89,478,485"):
        resize_image(fx.png_header_only(12_000, 12_000))
    with pytest.raises(ImageTooLarge, match="MAX_INPUT_PIXELS=1,000"):
        resize_image(fx.encode(Image.new("RGB", (40, 40)), "PNG"), ResizeSettings(max_input_pixels=1000))


def test_image_too_large_for_the_memory_size_is_refused_with_what_to_change():
    header = fx.png_header_only(8000, 8000)  # 64 MP RGBA PNG: far more than 128 MB once decoded
    with pytest.raises(ImageTooLarge) as refused:
        resize_image(header, ResizeSettings(memory_size_mb=128))
    message = str(refused.value)
    assert "memory size to at least" in message and "MAX_INPUT_PIXELS" in message
    # with enough memory it is accepted, gets to the decoder, and fails there (no pixel data)
    with pytest.raises(CorruptImage):
        resize_image(header, ResizeSettings(memory_size_mb=10_240))


def test_fifty_megapixel_jpeg_fits_in_128_mb_thanks_to_reduced_scale_decoding():
    header = fx.jpeg_header_only(8192, 6144)  # 50.3 MP
    # accepted by the memory check (it then fails in the decoder: the file stops after the headers)
    with pytest.raises(CorruptImage):
        resize_image(header, ResizeSettings(memory_size_mb=128))
    # the same pixels as a PNG, decoded at full size, would not fit
    with pytest.raises(ImageTooLarge, match="memory size"):
        resize_image(fx.png_header_only(8192, 6144, colour_type=2), ResizeSettings(memory_size_mb=128))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP"])
def test_truncated_image_is_a_corrupt_image(fmt):
    data = fx.encode(fx.photo_like(64, 48), fmt)
    with pytest.raises(CorruptImage) as refused:
        resize_image(data[: len(data) // 2])
    assert str(refused.value).endswith(".")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, world\n",
        b"<!DOCTYPE html><html><body>Not Found</body></html>",
        b"PK\x03\x04" + b"\x00" * 60,
        b"\x1f\x8b\x08\x00" + b"\x00" * 40,
        b'{"not": "an image"}',
    ],
    ids=["empty", "text", "html", "zip", "gzip", "json"],
)
def test_not_an_image_is_rejected_with_a_sentence(data):
    with pytest.raises(NotAnImage) as refused:
        resize_image(data)
    assert "\n" not in str(refused.value) and str(refused.value).endswith(".")


@pytest.mark.parametrize(
    "data, name",
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 32, "HEIC"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 32, "AVIF"),
        (fx.encode(Image.new("RGB", (16, 16)), "ICO"), "ICO"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (fx.encode(Image.new("RGB", (16, 16)), "PPM"), None),
    ],
)
def test_formats_outside_the_allow_list_never_reach_a_decoder(data, name):
    with pytest.raises((UnsupportedFormat, NotAnImage)) as refused:
        resize_image(data)
    if name:
        assert isinstance(refused.value, UnsupportedFormat)
        assert name in str(refused.value) and "JPEG" in str(refused.value)


def test_rejections_share_one_base_class_with_a_kind():
    for kind, cls in [
        ("not-an-image", NotAnImage),
        ("unsupported", UnsupportedFormat),
        ("corrupt", CorruptImage),
        ("too-large", ImageTooLarge),
    ]:
        assert issubclass(cls, ImageRejected) and cls.kind == kind


# ------------------------------------------------------------------------------------------ settings


def test_settings_defaults_reproduce_the_guide():
    settings = ResizeSettings.from_environ({})
    assert settings == ResizeSettings()
    assert (settings.scale, settings.output_format, settings.max_width, settings.max_height) == (
        0.5,
        "JPEG",
        None,
        None,
    )
    assert settings.quality == 75 and settings.resampling == "LANCZOS" and settings.memory_size_mb == 128


def test_settings_are_read_from_the_environment():
    settings = ResizeSettings.from_environ(
        {
            "RESIZE_SCALE": "0.25",
            "MAX_WIDTH": "800",
            "MAX_HEIGHT": "600",
            "OUTPUT_FORMAT": "webp",
            "OUTPUT_QUALITY": "70",
            "RESAMPLING_FILTER": "bicubic",
            "BACKGROUND_COLOR": "black",
            "MAX_INPUT_PIXELS": "50_000_000",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        }
    )
    assert settings == ResizeSettings(
        scale=0.25,
        max_width=800,
        max_height=600,
        output_format="WEBP",
        quality=70,
        resampling="BICUBIC",
        background=(0, 0, 0),
        max_input_pixels=50_000_000,
        memory_size_mb=512,
    )


@pytest.mark.parametrize(
    "name, value, allowed",
    [
        ("RESIZE_SCALE", "0", "greater than 0"),
        ("RESIZE_SCALE", "1.5", "at most 1"),
        ("RESIZE_SCALE", "half", "number"),
        ("RESIZE_SCALE", "nan", "number"),
        ("OUTPUT_FORMAT", "gif", "JPEG, PNG, WEBP, AUTO"),
        ("OUTPUT_QUALITY", "0", "1 to 100"),
        ("OUTPUT_QUALITY", "high", "1 to 100"),
        ("RESAMPLING_FILTER", "sharp", "LANCZOS"),
        ("MAX_WIDTH", "0", "from 1"),
        ("MAX_HEIGHT", "-5", "from 1"),
        ("MAX_INPUT_PIXELS", "lots", "whole number"),
        ("BACKGROUND_COLOR", "not-a-colour", "#ffffff"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "64", "128"),
    ],
)
def test_bad_setting_names_the_variable_and_the_allowed_values(name, value, allowed):
    with pytest.raises(ValueError) as refused:
        ResizeSettings.from_environ({name: value})
    message = str(refused.value)
    assert message.startswith(name) and allowed in message and repr(value) in message
