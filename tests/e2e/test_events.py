"""Photos land in a bucket; seconds later the packshots, the catalog rows and one signed webhook
exist, and nothing is processed twice. Real HTTP all the way: moto's server for S3 and SQS
(with S3 -> SQS notifications on the bucket), a webhook receiver on 127.0.0.1, a temporary
Prefect server, the tiny ONNX model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

from flows.process_product_images import process_product_images
from flows.sweep_bucket import sweep_bucket
from schemas.notify import BATCH_COMPLETED, SIGNATURE_HEADER, TIMESTAMP_HEADER
from tasks import catalog, notify
from tasks.s3_bridge import SqsBridge
from tests.support.aws_events import Aws, Receiver
from tests.support.images import encoded, product_photo

SECRET = "whsec-e2e-never-in-logs-7f3a"
PHOTOS = {"shelf/red shoe+1.jpg": 700, "shelf/blue bag (2).jpg": 720, "hats/ü hat.jpg": 740}


@pytest.fixture
def shop(aws: Aws, receiver: Receiver, model_home: Path, monkeypatch: pytest.MonkeyPatch):
    """An input bucket wired to a queue, an output bucket, a notice queue and the settings."""
    bucket, queue = aws.bucket("uploads"), aws.queue("uploads")
    aws.notify_queue(bucket, queue)
    out, notices = aws.bucket("media"), aws.queue("notices")
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    monkeypatch.setenv("PACKSHOT_NOTIFY__WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("PACKSHOT_NOTIFY__WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("PACKSHOT_NOTIFY__SQS_QUEUE_URL", notices)
    monkeypatch.setenv("PACKSHOT_NOTIFY__BACKOFF_SECONDS", "0.1")
    return {
        "bucket": bucket,
        "queue": queue,
        "out": out,
        "notices": notices,
        "dest": f"s3://{out}/shop",
        "model": str(model_home / "custom" / "tiny-isnet.onnx"),
    }


def _upload(aws: Aws, bucket: str, photos: dict[str, int]) -> dict[str, bytes]:
    data = {key: encoded(product_photo((width, 560))) for key, width in photos.items()}
    for key, body in data.items():
        aws.s3.put_object(Bucket=bucket, Key=key, Body=body)
    return data


def _catalog_rows(dest: str) -> list[dict]:
    return catalog.query(
        f"{dest}/catalog",
        "SELECT source_uri, source_etag, sha256, status FROM images ORDER BY source_uri",
    ).to_pylist()


def test_uploads_are_processed_once_with_metadata_catalog_rows_and_one_signed_webhook(
    prefect_harness, aws: Aws, receiver: Receiver, shop: dict
) -> None:
    data = _upload(aws, shop["bucket"], PHOTOS)
    peeked = aws.sqs.receive_message(
        QueueUrl=shop["queue"], MaxNumberOfMessages=10, VisibilityTimeout=0
    )["Messages"]
    for message in peeked:  # every event delivered twice, as SQS and S3 may
        aws.sqs.send_message(QueueUrl=shop["queue"], MessageBody=message["Body"])

    summaries = []

    def start_run_in_process(*, source: str, keys: list[str], idempotency_key: str) -> str:
        state = process_product_images(
            source=source,
            destination=shop["dest"],
            model=shop["model"],
            keys=keys,
            batch_size=2,
            return_state=True,
        )
        assert state.is_completed(), state.message
        summaries.append(state.result())
        return str(state.state_details.flow_run_id)

    bridge = SqsBridge(
        aws.sqs,
        shop["queue"],
        start_run_in_process,
        batch_size=10,
        window_seconds=1,
        wait_seconds=1,
    )
    for _ in range(5):
        bridge.poll_once()
    bridge.drain()

    assert len(summaries) == 1 and summaries[0].processed == 3 and summaries[0].seen == 3
    assert aws.depth(shop["queue"]) == 0

    # outputs, with type, user metadata, tags and server-side encryption
    listed = aws.s3.list_objects_v2(Bucket=shop["out"], Prefix="shop/amazon-main/")["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(
        f"shop/amazon-main/{key.rsplit('.', 1)[0]}.jpg" for key in PHOTOS
    )
    for key, body in data.items():
        out_key = f"shop/amazon-main/{key.rsplit('.', 1)[0]}.jpg"
        head = aws.s3.head_object(Bucket=shop["out"], Key=out_key)
        assert head["ContentType"] == "image/jpeg" and head["ServerSideEncryption"] == "AES256"
        meta = head["Metadata"]
        assert meta["source-sha256"] == hashlib.sha256(body).hexdigest()
        assert meta["run-id"] == summaries[0].run_id and meta["preset"] == "amazon-main"
        assert meta["model"] and meta["model-sha256"]
        tags = aws.s3.get_object_tagging(Bucket=shop["out"], Key=out_key)["TagSet"]
        assert {"Key": "producer", "Value": "packshot"} in tags

    # one catalog row per object version, with the ETag S3 gave it
    rows = _catalog_rows(shop["dest"])
    etags = {
        f"s3://{shop['bucket']}/{key}": aws.s3.head_object(Bucket=shop["bucket"], Key=key)[
            "ETag"
        ].strip('"')
        for key in PHOTOS
    }
    assert [(r["source_uri"], r["source_etag"], r["status"]) for r in rows] == [
        (uri, etags[uri], "processed") for uri in sorted(etags)
    ]

    # exactly one webhook call, signed over timestamp and body
    assert len(receiver.calls) == 1
    call = receiver.calls[0]
    assert notify.verify(
        SECRET, call.headers[TIMESTAMP_HEADER], call.body, call.headers[SIGNATURE_HEADER]
    )
    payload = json.loads(call.body)
    assert payload["event"] == BATCH_COMPLETED and payload["processed"] == 3
    assert sorted(item["source_uri"] for item in payload["items"]) == sorted(etags)
    (notice,) = aws.messages(shop["notices"])
    assert json.loads(notice["Body"])["run_id"] == summaries[0].run_id

    # the secret is nowhere in what the run wrote
    for obj in aws.s3.list_objects_v2(Bucket=shop["out"], Prefix="shop/_packshot/")["Contents"]:
        body = aws.s3.get_object(Bucket=shop["out"], Key=obj["Key"])["Body"].read()
        assert SECRET.encode() not in body
    recorded = aws.s3.get_object(
        Bucket=shop["out"], Key=f"shop/_packshot/runs/{summaries[0].run_id}/notifications.json"
    )["Body"].read()
    assert [r["channel"] for r in json.loads(recorded) if r["ok"]] == [
        "webhook",
        "sqs",
        "prefect-event",
    ]

    # a late redelivery, a rerun and a sweep of the same objects change nothing
    aws.sqs.send_message(QueueUrl=shop["queue"], MessageBody=peeked[-1]["Body"])
    bridge.poll_once()
    bridge.drain()
    rerun = process_product_images(
        source=f"s3://{shop['bucket']}",
        destination=shop["dest"],
        model=shop["model"],
        keys=list(PHOTOS),
    )
    swept = sweep_bucket(
        source=f"s3://{shop['bucket']}", destination=shop["dest"], model=shop["model"]
    )
    assert (len(summaries), rerun.seen, swept.seen) == (1, 0, 0)
    assert len(_catalog_rows(shop["dest"])) == 3 and len(receiver.calls) == 1

    # the sweep finds what no event announced, and only that
    aws.s3.put_bucket_notification_configuration(
        Bucket=shop["bucket"], NotificationConfiguration={}
    )
    _upload(aws, shop["bucket"], {"missed/green cap.jpg": 760})
    swept = sweep_bucket(
        source=f"s3://{shop['bucket']}", destination=shop["dest"], model=shop["model"]
    )
    assert (swept.seen, swept.processed) == (1, 1)
    assert len(_catalog_rows(shop["dest"])) == 4 and len(receiver.calls) == 2

    forced = process_product_images(
        source=f"s3://{shop['bucket']}",
        destination=shop["dest"],
        model=shop["model"],
        keys=["missed/green cap.jpg"],
        force=True,
    )
    assert forced.processed == 1 and len(_catalog_rows(shop["dest"])) == 5


def test_packshot_listen_creates_deployment_runs_before_deleting_messages(
    prefect_harness, aws: Aws, shop: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deployments import cli

    deployment_id = process_product_images.to_deployment(name="events-test").apply()
    _upload(aws, shop["bucket"], {"shelf/red shoe+1.jpg": 700, "a b.jpg": 710})
    monkeypatch.setenv("PACKSHOT_EVENTS__WAIT_SECONDS", "1")
    monkeypatch.setenv("PACKSHOT_EVENTS__WINDOW_SECONDS", "0")
    for _ in range(2):  # the second listen finds the queue empty: nothing more is started
        with pytest.raises(SystemExit) as exited:
            cli.main(
                [
                    "listen",
                    "--queue-url",
                    shop["queue"],
                    "--dest",
                    shop["dest"],
                    "--deployment",
                    "process-product-images/events-test",
                    "--once",
                ]
            )
        assert exited.value.code == 0
    assert aws.depth(shop["queue"]) == 0

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
    assert len(runs) == 1
    params = runs[0].parameters
    assert params["source"] == f"s3://{shop['bucket']}" and params["destination"] == shop["dest"]
    assert sorted(params["keys"]) == ["a b.jpg", "shelf/red shoe+1.jpg"]
    assert "packshot-events" in runs[0].tags and runs[0].idempotency_key.startswith("packshot-")


def test_a_failed_run_is_announced_as_failed_once(
    prefect_harness, receiver: Receiver, model_home: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    monkeypatch.setenv("PACKSHOT_NOTIFY__WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("PACKSHOT_NOTIFY__WEBHOOK_SECRET", SECRET)
    (tmp_path / "in").mkdir()
    state = process_product_images(
        source=str(tmp_path / "in"), destination=str(tmp_path / "out"),
        model=str(model_home / "custom" / "missing.onnx"), return_state=True,
    )  # fmt: skip
    assert state.is_failed()
    assert len(receiver.calls) == 1
    call = receiver.calls[0]
    payload = json.loads(call.body)
    assert payload["event"] == "packshot.batch.failed" and payload["message"]
    assert payload["run_id"] == str(state.state_details.flow_run_id)
    assert notify.verify(
        SECRET, call.headers[TIMESTAMP_HEADER], call.body, call.headers[SIGNATURE_HEADER]
    )
    records = json.loads(
        (
            tmp_path / "out" / "_packshot" / "runs" / payload["run_id"] / "notifications.json"
        ).read_text()
    )
    assert [(r["channel"], r["ok"]) for r in records] == [
        ("webhook", True),
        ("prefect-event", True),
    ]


def test_lambda_handler_creates_one_deployment_run_however_often_it_is_invoked(
    prefect_harness, aws: Aws, shop: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deployments.lambda_bridge import handler

    deployment_id = process_product_images.to_deployment(name="lambda-test").apply()
    monkeypatch.setenv("PACKSHOT_EVENTS__DESTINATION", shop["dest"])
    monkeypatch.setenv("PACKSHOT_EVENTS__DEPLOYMENT", "process-product-images/lambda-test")
    _upload(aws, shop["bucket"], {"drop/one shoe.jpg": 700})
    event = {
        "Records": [
            {"eventSource": "aws:sqs", "messageId": m["MessageId"], "body": m["Body"]}
            for m in aws.messages(shop["queue"])
        ]
    }
    first, again = handler(event, None), handler(event, None)  # Lambda retries: same batch
    assert first["batchItemFailures"] == [] and first["runs"] == again["runs"]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
    assert [str(r.id) for r in runs] == first["runs"]
    assert runs[0].parameters["keys"] == ["drop/one shoe.jpg"]
