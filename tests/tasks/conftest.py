"""Fixtures shared by this folder's tests."""

from tests.support.aws_events import aws, moto_url, receiver  # noqa: F401 (pytest fixtures)
from tests.support.s3 import s3  # noqa: F401 (pytest fixture)
