"""Creatives against a real S3 endpoint (moto's server): manifest in, disclosed object out."""

from __future__ import annotations

from schemas.creatives import get_template
from schemas.settings import GeneratorSettings
from tasks.creatives import disclosure
from tasks.creatives.manifest import load_manifest
from tasks.creatives.outputs import BatchCreatives
from tasks.creatives.reference_generator import ReferenceGenerator
from tasks.storage import Storage
from tests.support.aws_events import Aws
from tests.tasks.creatives.helpers import product


def test_a_manifest_on_s3_and_a_disclosed_object_back(aws: Aws) -> None:
    bucket = aws.bucket("ads")
    csv = "sku,title,price,currency\nAB-12,Trekkingjacke,129,EUR\n"
    aws.s3.put_object(Bucket=bucket, Key="in/products.csv", Body=csv.encode())
    manifest = load_manifest(f"s3://{bucket}/in/products.csv")
    image, mask = product()
    with ReferenceGenerator() as service:
        creatives = BatchCreatives(manifest, GeneratorSettings(url=service.url))
        with creatives:
            started = creatives.start(get_template("ad-feed-scene"), "AB-12.jpg", image, mask, "0")
            finished = creatives.finish(started)
    store = Storage(f"s3://{bucket}/out")
    store.write("ad-feed-scene/AB-12.jpg", finished.data, metadata=finished.metadata)
    head = aws.s3.head_object(Bucket=bucket, Key="out/ad-feed-scene/AB-12.jpg")
    assert head["Metadata"] == {"digital-source-type": disclosure.COMPOSITE_WITH_AI}
    body = aws.s3.get_object(Bucket=bucket, Key="out/ad-feed-scene/AB-12.jpg")["Body"].read()
    assert disclosure.read_source_type(body) == disclosure.COMPOSITE_WITH_AI
