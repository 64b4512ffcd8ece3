"""Storage against a real S3 endpoint over HTTP (moto's server), found via AWS_ENDPOINT_URL."""

from __future__ import annotations

from urllib.parse import quote

from schemas.settings import StorageSettings
from tasks.storage import ObjectInfo, Storage
from tests.support.aws_events import Aws


def test_s3_writes_carry_type_metadata_tags_and_sse_s3_by_default(aws: Aws) -> None:
    out = aws.bucket("out")
    store = Storage(f"s3://{out}/packshots")
    url = store.write(
        "amazon-main/red shoe+1.jpg",
        b"jpeg bytes",
        content_type="image/jpeg",
        metadata={"source-sha256": "ab" * 32, "run-id": "r1"},
        tags={"preset": "amazon-main"},
    )
    assert url == f"s3://{out}/packshots/amazon-main/red shoe+1.jpg"
    key = "packshots/amazon-main/red shoe+1.jpg"
    head = aws.s3.head_object(Bucket=out, Key=key)
    assert head["ContentType"] == "image/jpeg"
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"] == {"source-sha256": "ab" * 32, "run-id": "r1"}
    tags = aws.s3.get_object_tagging(Bucket=out, Key=key)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"producer": "packshot", "preset": "amazon-main"}


def test_s3_writes_use_the_configured_kms_key_and_tags(aws: Aws) -> None:
    out = aws.bucket("kms-out")
    options = StorageSettings(
        sse="aws:kms", kms_key_id="alias/packshot", tags={"team": "media + print/eu"}
    )
    Storage(f"s3://{out}", options).write("a.png", b"png", content_type="image/png")
    head = aws.s3.head_object(Bucket=out, Key="a.png")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith("alias/packshot")
    tags = aws.s3.get_object_tagging(Bucket=out, Key="a.png")["TagSet"]
    assert tags == [{"Key": "team", "Value": "media + print/eu"}]  # tag values are URL-encoded


def test_s3_listing_and_stat_give_etags(aws: Aws) -> None:
    bucket = aws.bucket("in")
    put = aws.s3.put_object(Bucket=bucket, Key="raw/shoe 1.jpg", Body=b"one")
    aws.s3.put_object(Bucket=bucket, Key="raw/.hidden", Body=b"x")
    store = Storage(f"s3://{bucket}/raw")
    etag = put["ETag"].strip('"')
    assert store.list_objects() == [ObjectInfo("shoe 1.jpg", etag, None, size=3)]
    assert store.stat("shoe 1.jpg").etag == etag
    assert store.uri("shoe 1.jpg") == f"s3://{bucket}/raw/shoe 1.jpg"
    assert quote("shoe 1.jpg") == "shoe%201.jpg"  # keys stay plain; botocore encodes on the wire


def test_many_deletes_are_one_call_and_each_is_audited(aws: Aws, tmp_path, monkeypatch) -> None:
    from tasks import audit

    bucket = aws.bucket("many")
    remote = Storage(f"s3://{bucket}/out")
    calls: list[str] = []
    real = remote.fs._call_s3

    async def counted(method, *args, **kwargs):
        calls.append(method)
        return await real(method, *args, **kwargs)

    monkeypatch.setattr(remote.fs, "_call_s3", counted)
    for store in (remote, Storage(str(tmp_path / "out"))):
        keys = [f"_packshot/leases/{i:03d}.json" for i in range(5)]
        for key in keys[:4]:
            store.write(key, b"{}")
        calls.clear()
        before = len(audit.pending())
        store.delete_many(keys)  # the fifth was never there: not an error
        assert not store.list()
        deleted = [e.url for e in audit.pending()[before:] if e.action == "delete"]
        assert deleted == [store.uri(k) for k in keys]
    assert calls == []  # the folder's deletes made no S3 call
    remote.delete_many([f"_packshot/leases/{i:03d}.json" for i in range(3)])
    assert calls == ["delete_objects"]
