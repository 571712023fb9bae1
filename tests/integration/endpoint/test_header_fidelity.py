"""Headers reach the sandbox's services as the client sent them: S3 user metadata whose name has an
underscore is kept (as by a plain moto server), and every app behind the endpoint can read the request's
headers in order, names in the client's case, repeats kept (``sandbox.raw_headers``)."""

import json
import socket

import pytest

from helpers.sandboxes import start_sandbox


@pytest.fixture
def sb():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


def test_s3_user_metadata_with_an_underscore_in_its_name_is_kept(sb):
    sb.s3.create_bucket(Bucket="metadata-names")
    sb.s3.put_object(
        Bucket="metadata-names",
        Key="k",
        Body=b"x",
        Metadata={"my_key": "1", "my-key2": "2", "Under_Score_Case": "3"},
    )
    head = sb.s3.head_object(Bucket="metadata-names", Key="k")
    assert head["Metadata"] == {"my_key": "1", "my-key2": "2", "under_score_case": "3"}
    got = sb.s3.get_object(Bucket="metadata-names", Key="k")
    assert got["Metadata"] == head["Metadata"]


def _echo_raw_headers(environ, start_response):
    body = json.dumps(environ.get("sandbox.raw_headers")).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def test_the_request_handler_exposes_the_headers_exactly_as_sent():
    from sandbox.endpoint.server import LocalEndpoint

    endpoint = LocalEndpoint(port=0)
    endpoint.add_public_route(_echo_raw_headers, path_prefix="/_aws/echo-headers")
    with endpoint:
        sent = [
            ("Host", f"127.0.0.1:{endpoint.port}"),
            ("X-Repeated", "one"),
            ("x-repeated", "two"),
            ("X-MiXeD-CaSe", "Value, with comma"),
            ("my_header", "under score"),
            ("Accept", "*/*"),
        ]
        request = "GET /_aws/echo-headers HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in sent) + "\r\n"
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
            sock.sendall(request.encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data
    assert [tuple(pair) for pair in json.loads(body)] == sent
