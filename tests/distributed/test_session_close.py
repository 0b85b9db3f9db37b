"""How a torchrun worker leaves the job: after a clean run every rank waits for the others (the main
rank arrives once it has written the model), then the process group is destroyed; after an error
nothing is awaited."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from nextwatch.distributed import DistributedSession, LaunchEnv
from nextwatch.distributed.ddp import END_WAIT

LAUNCH = LaunchEnv(rank=1, world_size=2, local_rank=1, local_world_size=2, master_addr="h", master_port="1")


@pytest.mark.parametrize("backend", ["gloo", "nccl"])
def test_a_clean_run_waits_for_every_rank_before_leaving_and_a_failed_one_does_not(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "monitored_barrier", lambda **kw: calls.append(f"monitored {kw['timeout']}"))
    monkeypatch.setattr(dist, "barrier", lambda *a, **kw: calls.append("barrier"))
    monkeypatch.setattr(dist, "destroy_process_group", lambda: calls.append("destroy"))
    session = DistributedSession(LAUNCH, torch.device("cpu"), 1, backend)
    with session:
        pass
    wait = f"monitored {END_WAIT}" if backend == "gloo" else "barrier"
    assert calls == [wait, "destroy"]  # not the collective timeout: rank 0 may evaluate for long
    calls.clear()
    with pytest.raises(RuntimeError), session:
        raise RuntimeError("rank failed")
    assert calls == ["destroy"]  # the peers may never arrive: nothing is awaited
