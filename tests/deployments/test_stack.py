"""The `packshot ui` stack's choices: the deployments that run here, pools and queues set twice."""

from __future__ import annotations

import pytest
from prefect.testing.utilities import prefect_test_harness

from deployments import stack

SWEEP_ENV = {"PACKSHOT_SWEEP_SOURCE": "s3://in/raw/", "PACKSHOT_SWEEP_DESTINATION": "s3://out/"}


def _names(entries: list[dict]) -> list[str]:
    return [entry["name"] for entry in entries]


def test_without_settings_only_the_local_deployments_are_chosen_and_the_rest_say_why() -> None:
    chosen, skipped = stack.plan_deployments(stack.load_prefect_yamls(), {})
    assert _names(chosen) == ["manual", "events", "review"]
    assert any(line.startswith("sweep:") and "PACKSHOT_SWEEP_SOURCE" in line for line in skipped)
    assert any(line.startswith("ecs:") and "PACKSHOT_ECS_IMAGE" in line for line in skipped)
    assert len(chosen) + len(skipped) == len(stack.load_prefect_yamls()["deployments"])


def test_settings_present_fill_the_templates() -> None:
    chosen, _ = stack.plan_deployments(stack.load_prefect_yamls(), SWEEP_ENV)
    sweep = next(entry for entry in chosen if entry["name"] == "sweep")
    assert sweep["parameters"]["source"] == "s3://in/raw/"
    assert sweep["parameters"]["destination"] == "s3://out/"


@pytest.mark.parametrize("value", ["", "{{ $PACKSHOT_SWEEP_SOURCE }}", " s3://x"])
def test_the_sweep_refuses_an_empty_or_unfilled_location(value: str) -> None:
    import jsonschema
    from prefect.utilities.callables import parameter_schema

    from flows.sweep_bucket import sweep_bucket

    schema = parameter_schema(sweep_bucket).model_dump_for_openapi()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"source": value, "destination": "s3://out/"}, schema)


def test_pool_and_queue_limits_are_set_twice_without_error() -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    with prefect_test_harness():
        url = PREFECT_API_URL.value()
        stack.ensure_work_pool(url, "p", {"catalog-writers": 3})
        stack.ensure_work_pool(url, "p", {"catalog-writers": 1})  # exists: updated, not an error
        with get_client(sync_client=True) as client:
            queue = client.read_work_queue_by_name("catalog-writers", work_pool_name="p")
    assert queue.concurrency_limit == 1


def test_a_port_is_free_again_once_its_listener_is_gone_though_connections_linger() -> None:
    """Stopping `packshot ui` leaves its port's closed connections waiting a minute (TIME_WAIT);
    starting it again on the same port must not be refused for them, only for a live listener."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    assert not stack.port_free(port)
    accepted.close()  # the server's side closes first, so its side of the port waits
    client.close()
    listener.close()
    assert stack.port_free(port)
