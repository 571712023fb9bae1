# The guide's handler, pasted unmodified in spirit: hard-coded buckets, a client created at import,
# only Records[0], the key not URL-decoded, errors returned as statusCode 500.
import io

import boto3
from PIL import Image

s3 = boto3.client("s3")


def lambda_handler(event, context):
    source_bucket = "source-image-bucket123"
    destination_bucket = "resized-image-bucket123"
    key = event["Records"][0]["s3"]["object"]["key"]
    try:
        response = s3.get_object(Bucket=source_bucket, Key=key)
        image = Image.open(io.BytesIO(response["Body"].read()))
        image = image.resize((image.width // 2, image.height // 2))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG")
        buffer.seek(0)
        s3.put_object(Bucket=destination_bucket, Key=f"resized-{key}", Body=buffer, ContentType="image/jpeg")
        return {"statusCode": 200, "body": f"Image {key} resized successfully"}
    except Exception as e:
        print(e)
        return {"statusCode": 500, "body": f"Error processing image {key}: {str(e)}"}
