# A function that publishes every message it gets back to the topic it came from: an infinite loop.
import boto3

sns = boto3.client("sns")


def lambda_handler(event, context):
    for record in event["Records"]:
        sns.publish(TopicArn=record["Sns"]["TopicArn"], Message=record["Sns"]["Message"])
    return {"ok": True}
