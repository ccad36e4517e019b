"""Where a Ray cluster's actors run: a GPU each for a torch model where there are GPUs."""

from __future__ import annotations

from pathlib import Path

from embed.indexing.ray_engine import actor_pool
from embed.models.engine import EncoderSpec
from embed.models.usem import NAME as USEM

E5 = EncoderSpec("intfloat/multilingual-e5-small", Path("/models"))


def test_without_gpus_there_is_an_actor_per_cpu_on_the_cpu() -> None:
    spec, size, asks = actor_pool(E5, {"CPU": 8.0}, None, batches=100)
    assert (spec, size, asks) == (E5, 8, {"num_cpus": 1.0})


def test_with_gpus_a_torch_model_gets_an_actor_per_gpu_on_it() -> None:
    spec, size, asks = actor_pool(E5, {"CPU": 64.0, "GPU": 4.0}, None, batches=100)
    assert (spec.device, spec.passage_backend, spec.name) == ("cuda", "torch", E5.name)
    assert (size, asks) == (4, {"num_cpus": 1.0, "num_gpus": 1.0})
    # More actors than GPUs would wait for a GPU forever.
    assert actor_pool(E5, {"CPU": 64.0, "GPU": 4.0}, 16, batches=100)[1] == 4


def test_usem3_stays_on_cpus_beside_gpus() -> None:
    usem = EncoderSpec(USEM, Path("/models"))
    assert actor_pool(usem, {"CPU": 8.0, "GPU": 2.0}, None, batches=100) == (
        usem, 8, {"num_cpus": 1.0}
    )  # fmt: skip


def test_no_more_actors_than_batches() -> None:
    assert actor_pool(E5, {"CPU": 8.0}, None, batches=3)[1] == 3
    assert actor_pool(E5, {"CPU": 8.0}, 5, batches=0)[1] == 1
