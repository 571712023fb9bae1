"""Logs each change of the table, as the blueprint does, and says how many records it processed."""

import json


def lambda_handler(event, context):
    for record in event["Records"]:
        print(record["eventID"])
        print(record["eventName"])
        print("DynamoDB Record: " + json.dumps(record["dynamodb"], indent=2))
    return "Successfully processed {} records.".format(len(event["Records"]))
