"""Reading torchrun's environment, the collective timeout, the workers' device and threads, and the
weight hash the ranks compare (no process group needed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import torch

from nextwatch.distributed import LaunchEnv, collective_timeout, open_session, weights_digest, worker_device
from nextwatch.distributed.ddp import LocalSession
from nextwatch.errors import InputError, NextwatchError

TORCHRUN = {
    "RANK": "3",
    "WORLD_SIZE": "4",
    "LOCAL_RANK": "1",
    "LOCAL_WORLD_SIZE": "2",
    "MASTER_ADDR": "node0",
    "MASTER_PORT": "29500",
}


def test_a_plain_process_is_not_distributed() -> None:
    assert LaunchEnv.from_environ({"PATH": "/bin"}) is None


def test_torchrun_variables_are_read() -> None:
    env = LaunchEnv.from_environ(TORCHRUN)
    assert env == LaunchEnv(3, 4, 1, 2, "node0", "29500")
    assert not env.is_main
    assert LaunchEnv.from_environ({**TORCHRUN, "RANK": "0", "LOCAL_RANK": "0"}).is_main  # type: ignore[union-attr]


def test_local_rank_defaults_to_rank_on_one_node() -> None:
    env = LaunchEnv.from_environ({"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"})
    assert (env.local_rank, env.local_world_size) == (1, 2)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"RANK": "4"}, "$RANK=4 must be in 0..3"),
        ({"RANK": "x"}, "$RANK='x' must be an integer"),
        ({"LOCAL_RANK": "2"}, "$LOCAL_RANK=2 must be in 0..1"),
        ({"LOCAL_WORLD_SIZE": "5"}, "$LOCAL_WORLD_SIZE=5 must be in 1..4"),
        ({"MASTER_PORT": ""}, "$MASTER_PORT is not set"),
        ({"WORLD_SIZE": ""}, "$WORLD_SIZE is not set"),
    ],
)
def test_inconsistent_variables_are_named(change: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message.replace("$", r"\$").replace("(", r"\(")):
        LaunchEnv.from_environ({**TORCHRUN, **change})


def test_local_rank_is_required_on_several_nodes() -> None:
    env = {k: v for k, v in TORCHRUN.items() if k != "LOCAL_RANK"}
    with pytest.raises(InputError, match=r"\$LOCAL_RANK is not set"):
        LaunchEnv.from_environ(env)


def test_threads_split_the_node_cores_evenly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nextwatch.distributed.env.cpu_count", lambda: 16)
    assert LaunchEnv(0, 8, 0, 4, "h", "1").default_threads() == 4
    assert LaunchEnv(0, 3, 0, 3, "h", "1").default_threads() == 5
    monkeypatch.setattr("nextwatch.distributed.env.cpu_count", lambda: 2)
    assert LaunchEnv(0, 4, 0, 4, "h", "1").default_threads() == 1


def test_collective_timeout() -> None:
    assert collective_timeout({}) == timedelta(minutes=30)
    assert collective_timeout({"NEXTWATCH_DIST_TIMEOUT": "90"}) == timedelta(seconds=90)
    for bad in ("soon", "0", "-5"):
        with pytest.raises(InputError, match="NEXTWATCH_DIST_TIMEOUT"):
            collective_timeout({"NEXTWATCH_DIST_TIMEOUT": bad})


def test_cpu_workers_stay_on_the_cpu_and_cuda_needs_a_gpu() -> None:
    launch = LaunchEnv(1, 2, 1, 2, "h", "1")
    assert worker_device("cpu", launch) == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(NextwatchError, match="no CUDA GPU"):
            worker_device("cuda", launch)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_each_gpu_worker_takes_its_local_rank() -> None:
    n = torch.cuda.device_count()
    assert worker_device("cuda", LaunchEnv(0, n, n - 1, n, "h", "1")) == torch.device("cuda", n - 1)
    with pytest.raises(NextwatchError, match="has no GPU of its own"):
        worker_device("cuda", LaunchEnv(0, n + 1, n, n + 1, "h", "1"))
    with pytest.raises(InputError, match="names one GPU"):
        worker_device("cuda:0", LaunchEnv(0, 2, 0, 2, "h", "1"))


def test_outside_torchrun_the_session_is_local(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    before = torch.get_num_threads()
    try:
        session = open_session("cpu", 1)
        assert isinstance(session, LocalSession) and session.is_main
        assert (session.device, session.threads, session.world_size) == (torch.device("cpu"), 1, 1)
        assert session.fit_options() == {} and session.describe() == {}
        assert session.finish(torch.nn.Linear(2, 1)) is True
    finally:
        torch.set_num_threads(before)


def test_the_weight_hash_sees_every_bit() -> None:
    torch.manual_seed(0)
    a = torch.nn.Linear(4, 3)
    b = torch.nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    assert weights_digest(a) == weights_digest(b)
    with torch.no_grad():  # the smallest change of one weight: flip its lowest mantissa bit
        w = b.weight.view(-1).view(torch.int32)
        w[5] ^= 1
    assert weights_digest(a) != weights_digest(b)
