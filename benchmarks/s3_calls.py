"""What one S3 call costs on moto's server as its bucket grows (issue 18.6, scale on S3).

    python -m benchmarks.s3_calls [--sizes 1000 10000] [--calls 300]

A batch makes a fixed number of calls per image (HeadObject, GetObject, PutObject,
DeleteObject; no listing), so a batch phase that grows faster than the images on moto is
moto's own per-call cost. For each bucket size, the mean seconds of each call over --calls
objects, and of one full listing (ListObjectsV2, every page), through boto3 over HTTP.
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

from tests.support.s3 import free_port

BODY = b"x" * 4096  # a small photo's order of size


def _time(call, keys) -> float:
    start = time.perf_counter()
    for key in keys:
        call(key)
    return (time.perf_counter() - start) / len(keys)


def _bucket_row(s3, bucket: str, size: int, calls: int) -> dict:
    keys = [f"in/p{index:06d}.jpg" for index in range(0, size, max(1, size // calls))]
    new = [f"out/q{index:06d}.png" for index in range(len(keys))]
    row = {
        "objects": size,
        "head_ms": _time(lambda k: s3.head_object(Bucket=bucket, Key=k), keys),
        "get_ms": _time(lambda k: s3.get_object(Bucket=bucket, Key=k)["Body"].read(), keys),
        "put_ms": _time(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=BODY), new),
        "delete_ms": _time(lambda k: s3.delete_object(Bucket=bucket, Key=k), new),
    }
    row = {k: round(v * 1000, 2) if k.endswith("_ms") else v for k, v in row.items()}
    start = time.perf_counter()
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="in/")
    row["listed"] = sum(len(page.get("Contents", [])) for page in pages)
    row["list_all_s"] = round(time.perf_counter() - start, 3)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    import boto3

    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}")
    results = []
    try:
        for size in args.sizes:
            bucket = f"calls-{size}"
            s3.create_bucket(Bucket=bucket)
            for index in range(size):
                s3.put_object(Bucket=bucket, Key=f"in/p{index:06d}.jpg", Body=BODY)
            row = _bucket_row(s3, bucket, size, args.calls)
            print(json.dumps(row))
            results.append(row)
    finally:
        server.stop()
    for row in results[1:]:
        base = results[0]
        ratios = {k: round(row[k] / base[k], 2) for k in row if k.endswith(("_ms", "_s"))}
        print(f"{row['objects']:,} against {base['objects']:,} objects:", json.dumps(ratios))


if __name__ == "__main__":
    main()
