"""The memory size is a real limit: a 22 MP photo is out of memory at 128 MB for the guide's handler and fits
at 512 MB; the project's handler decodes it at reduced scale and fits in 128 MB."""

import pytest

from helpers.paths import HANDLERS
from helpers.sandboxes import start_sandbox

SOURCE = "source-image-bucket123"


@pytest.mark.slow
@pytest.mark.corpus
def test_guide_handler_on_a_22_mp_photo_fails_at_128_mb_and_succeeds_at_512(realworld):
    photo = realworld / "metadata-extractor-images" / "jpg" / "Issue 266.jpg"
    sb = start_sandbox(HANDLERS / "guide", maximum_retry_attempts=0, timeout=30)
    try:
        sb.s3.upload_file(str(photo), SOURCE, "big.jpg")
        small = sb.wait_for_key("big.jpg", 60)
        assert small.status == "dead-lettered" and small.error_type == "Runtime.OutOfMemory"
        sb.update_function_configuration(memory_size=512)
        sb.s3.upload_file(str(photo), SOURCE, "big2.jpg")
        large = sb.wait_for_key("big2.jpg", 60)
        assert large.status == "success" and large.max_memory_used_mb > 128
    finally:
        sb.stop()


@pytest.mark.slow
@pytest.mark.corpus
def test_project_handler_on_a_22_mp_photo_succeeds_at_128_mb(realworld):
    photo = realworld / "metadata-extractor-images" / "jpg" / "Issue 266.jpg"
    sb = start_sandbox(timeout=30)
    try:
        sb.s3.upload_file(str(photo), SOURCE, "big.jpg")
        record = sb.wait_for_key("big.jpg", 60)
        assert record.status == "success", (record.error_type, record.result)
        assert record.max_memory_used_mb <= 128
    finally:
        sb.stop()
