"""The function's settings: the environment variables it reads, with their defaults and allowed values.

One table, read by lambda_function.py (its defaults) and by the sandbox's page (the Configuration tab reads
``SETTINGS`` from this file as data, without running it). Keep ``SETTINGS`` a plain literal: strings,
lists, dicts. A value is validated when the module that reads it loads, so a bad one fails the INIT
phase with a message naming the variable. ``default`` "" means unset.
"""

SETTINGS = [
    {
        "name": "DESTINATION_BUCKET",
        "default": "resized-image-bucket123",
        "allowed": "an S3 bucket name",
        "meaning": (
            "Where resized images are written. May be the source bucket: the loop guard then skips keys "
            "that start with OUTPUT_KEY_PREFIX (logged at INFO)."
        ),
    },
    {
        "name": "OUTPUT_KEY_PREFIX",
        "default": "resized-",
        "allowed": "any text, may contain /; empty only with a separate destination bucket",
        "meaning": "Put in front of the source key: test.jpg -> resized-test.jpg. Distinct source keys never "
        "share an output key (see OUTPUT_FORMAT).",
    },
    {
        "name": "RESIZE_SCALE",
        "default": "0.5",
        "allowed": "number, 0 < x <= 1",
        "meaning": "Factor applied to each side (0.5 = half width, half height, as in the guide). No side "
        "becomes 0 px.",
    },
    {
        "name": "MAX_WIDTH",
        "default": "",
        "allowed": "whole number 1-65535",
        "meaning": "Optional: also fit the output inside this width (aspect ratio kept).",
    },
    {
        "name": "MAX_HEIGHT",
        "default": "",
        "allowed": "whole number 1-65535",
        "meaning": "Optional: also fit the output inside this height (aspect ratio kept).",
    },
    {
        "name": "OUTPUT_FORMAT",
        "default": "JPEG",
        "allowed": "JPEG, PNG, WEBP, AUTO",
        "choices": ["JPEG", "PNG", "WEBP", "AUTO"],
        "meaning": (
            "Format written. AUTO keeps JPEG/PNG/WebP sources in their format; other sources become PNG "
            "when they have transparency, JPEG otherwise. The output key is the prefix + the whole "
            "source key; a matching extension is kept (a.JPG -> resized-a.JPG), the extension of "
            "another type stays and the output's is added (hopper.png -> resized-hopper.png.jpg), a "
            "name without a type extension is kept (photo -> resized-photo): no two keys meet."
        ),
    },
    {
        "name": "OUTPUT_QUALITY",
        "default": "75",
        "allowed": "whole number 1-100",
        "meaning": "JPEG/WebP quality (75 is Pillow's default, what the guide's handler writes).",
    },
    {
        "name": "RESAMPLING_FILTER",
        "default": "LANCZOS",
        "allowed": "NEAREST, BOX, BILINEAR, HAMMING, BICUBIC, LANCZOS",
        "choices": ["NEAREST", "BOX", "BILINEAR", "HAMMING", "BICUBIC", "LANCZOS"],
        "meaning": "Filter used after libjpeg's reduced-scale decode to reach the exact size.",
    },
    {
        "name": "BACKGROUND_COLOR",
        "default": "#ffffff",
        "allowed": "a CSS-style colour (#rrggbb, white, rgb(r,g,b))",
        "meaning": "Transparency is flattened onto this colour for JPEG output (kept as is for PNG/WebP).",
    },
    {
        "name": "MAX_INPUT_PIXELS",
        "default": "89478485",
        "allowed": "whole number >= 1",
        "meaning": "Images with more pixels are refused from their header, before decoding (decompression "
        "bombs). Pillow's own default.",
    },
    {
        "name": "MAX_INPUT_BYTES",
        "default": "52428800",
        "allowed": "whole number >= 1 (default 50 MiB)",
        "meaning": "Objects larger than this are refused before they are downloaded, as is one whose bytes "
        "alone would not fit the memory size.",
    },
    {
        "name": "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "default": "128",
        "allowed": "128-10240 (set by Lambda)",
        "meaning": "The function's memory. Before decoding, what the process holds plus what the image will "
        "need (decoders' own buffers included) is checked against it; an image that would not fit "
        "is refused, naming the key and the memory size to choose.",
    },
]

DEFAULTS = {setting["name"]: setting["default"] for setting in SETTINGS}
