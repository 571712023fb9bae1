import boto3
from PIL import Image

s3 = boto3.client("s3")


def lambda_handler(event, context):
    source_bucket = "source-image-bucket123"
    destination_bucket = "resized-image-bucket123"
    key = event["Records"][0]["s3"]["object"]["key"]
    download_path = f"/tmp/{key}"
    upload_path = f"/tmp/resized-{key}"
    try:
        s3.download_file(source_bucket, key, download_path)
        with Image.open(download_path) as image:
            image.thumbnail((image.width // 2, image.height // 2))
            image.save(upload_path, "JPEG")
        s3.upload_file(upload_path, destination_bucket, f"resized-{key}")
        return {"statusCode": 200, "body": f"Image {key} resized and uploaded"}
    except Exception as e:
        print(e)
        return {"statusCode": 500, "body": f"Error processing {key}: {str(e)}"}
