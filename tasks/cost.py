"""Cost model: dollars per 1,000 images on Lambda, ECS Fargate and a local machine.

From the per-stage timings the catalog holds for every image (read, inspect, mask, compose,
write) and a dated pricing table (schemas/pricing.json, or the user's own). The model is linear
and says so:

- a worker process pipelines its images (read+inspect | mask | compose+write on three threads),
  so an image costs the time of its slowest stage; the mean over the catalog's rows (rejected
  ones included, they stop after inspect) is the worker's time per image;
- that time was measured on `measured_vcpus` cores, so one image needs that many vCPU-seconds,
  and an engine with V vCPUs takes vCPU-seconds / V per image (linear scaling, no turbo);
- Lambda bills memory x time per invocation (a batch) plus a request fee; Fargate bills the task's
  vCPUs and memory for its time at the given utilisation; a local machine costs its electricity
  and any hardware cost spread per hour. S3 request fees apply where the table says.

No Prefect here: the CLI (`packshot cost`) and the run report both call `estimate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from schemas.cost import CostEstimate, EngineCost, Pricing
from tasks import catalog as catalog_io

TIMING_COLUMNS = ("status", "read_ms", "inspect_ms", "mask_ms", "compose_ms", "write_ms")

# The local Dask cluster runs cores // 2 worker processes with cores // workers ONNX threads
# each, so a worker measured by a default run had 2 vCPUs.
DEFAULT_MEASURED_VCPUS = 2.0


def image_seconds(row: Mapping[str, object]) -> float:
    """One image's pipelined worker time: its slowest stage (seconds)."""

    def ms(name: str) -> float:
        value = row.get(name)
        return float(value) if isinstance(value, int | float) else 0.0

    prepare = ms("read_ms") + ms("inspect_ms")
    finish = ms("compose_ms") + ms("write_ms")
    return max(prepare, ms("mask_ms"), finish) / 1000.0


def catalog_timings(catalog: str, *, model: str, run_id: str | None = None) -> list[dict]:
    """The timing columns of the catalog's rows for `model` (and one run, when given)."""
    where, params = "model = $model", {"model": model}
    if run_id:
        where, params = where + " AND run_id = $run", params | {"run": run_id}
    sql = f"SELECT {', '.join(TIMING_COLUMNS)} FROM {catalog_io.TABLE} WHERE {where}"
    cursor = catalog_io.connect(catalog).execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def estimate(
    rows: Iterable[Mapping[str, object]],
    pricing: Pricing,
    *,
    model: str,
    measured_vcpus: float = DEFAULT_MEASURED_VCPUS,
) -> CostEstimate | None:
    """Dollars per 1,000 images like `rows` on each engine; None without rows to learn from."""
    rows = list(rows)
    if not rows:
        return None
    seconds = sum(image_seconds(row) for row in rows) / len(rows)
    processed = sum(row.get("status") == "processed" for row in rows) / len(rows)
    vcpu_seconds = seconds * measured_vcpus
    return CostEstimate(
        model=model,
        images=len(rows),
        seconds_per_image=round(seconds, 4),
        measured_vcpus=measured_vcpus,
        vcpu_seconds_per_image=round(vcpu_seconds, 4),
        pricing_as_of=pricing.as_of,
        currency=pricing.currency,
        engines=[
            _lambda(vcpu_seconds, processed, pricing),
            _fargate(vcpu_seconds, processed, pricing),
            _local(vcpu_seconds, processed, pricing),
        ],
    )


def _s3_requests(engine: str, processed: float, batch: int, pricing: Pricing) -> float:
    """S3 fees per 1,000 images: a GET per original, a PUT per output and per catalog part."""
    s3 = pricing.s3
    if engine not in s3.applies_to:
        return 0.0
    puts = 1000 * processed + 1000 / batch
    return s3.get_per_1000 + puts / 1000 * s3.put_per_1000


def _lambda(vcpu_seconds: float, processed: float, pricing: Pricing) -> EngineCost:
    fn = pricing.lambda_
    vcpus = min(fn.max_vcpus, fn.memory_mb / fn.mb_per_vcpu)
    per_image = vcpu_seconds / vcpus
    calls = 1000 / fn.images_per_invocation
    billed = calls * (fn.images_per_invocation * per_image + fn.invocation_overhead_s)
    compute = billed * fn.memory_mb / 1024 * fn.gb_second[fn.architecture]
    requests = calls * fn.per_million_requests / 1e6
    requests += _s3_requests("lambda", processed, fn.images_per_invocation, pricing)
    return _cost(
        "lambda",
        compute,
        requests,
        billed / 3600,
        f"{fn.memory_mb} MB ({vcpus:.2f} vCPU, {fn.architecture}), "
        f"{fn.images_per_invocation} images per call, {fn.invocation_overhead_s} s extra per call",
    )


def _fargate(vcpu_seconds: float, processed: float, pricing: Pricing) -> EngineCost:
    task = pricing.fargate
    hours = 1000 * vcpu_seconds / task.vcpus / task.utilisation / 3600
    hourly = task.vcpus * task.vcpu_hour[task.architecture]
    hourly += task.memory_gb * task.gb_hour[task.architecture]
    batch = pricing.lambda_.images_per_invocation  # catalog parts: one per batch either way
    return _cost(
        "fargate",
        hours * hourly,
        _s3_requests("fargate", processed, batch, pricing),
        hours,
        f"{task.vcpus:g} vCPU / {task.memory_gb:g} GB ({task.architecture}) "
        f"at {task.utilisation:.0%} utilisation",
    )


def _local(vcpu_seconds: float, processed: float, pricing: Pricing) -> EngineCost:
    box = pricing.local
    hours = 1000 * vcpu_seconds / box.cores / 3600
    hourly = box.watts / 1000 * box.kwh + box.hardware_hour
    batch = pricing.lambda_.images_per_invocation
    return _cost(
        "local",
        hours * hourly,
        _s3_requests("local", processed, batch, pricing),
        hours,
        f"{box.cores} cores at {box.watts:g} W, {box.kwh}/kWh, {box.hardware_hour}/h hardware",
    )


def _cost(engine, compute: float, requests: float, hours: float, assumptions: str) -> EngineCost:
    return EngineCost(
        engine=engine,
        per_1000=round(compute + requests, 6),
        compute_per_1000=round(compute, 6),
        requests_per_1000=round(requests, 6),
        hours_per_1000=round(hours, 4),
        assumptions=assumptions,
    )


def format_estimate(estimate: CostEstimate) -> str:
    """A short table for people."""
    lines = [
        f"model {estimate.model}: {estimate.images} images measured, "
        f"{estimate.seconds_per_image:.3f} s/image on {estimate.measured_vcpus:g} vCPU "
        f"({estimate.vcpu_seconds_per_image:.3f} vCPU-s); prices as of {estimate.pricing_as_of}",
        f"{'engine':<8} {'per 1,000':>11} {'compute':>10} {'requests':>10} {'hours':>8}"
        "  assumptions",
    ]
    for cost in estimate.engines:
        lines.append(
            f"{cost.engine:<8} {cost.per_1000:>11.4f} {cost.compute_per_1000:>10.4f} "
            f"{cost.requests_per_1000:>10.4f} {cost.hours_per_1000:>8.3f}  {cost.assumptions}"
        )
    return "\n".join(lines)
