"""What a launcher told this process: rank, world size and rendezvous, read from the environment.

``torchrun`` (``python -m torch.distributed.run``) starts every worker with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set; so do most cluster
launchers that follow PyTorch's ``env://`` convention. A process without ``RANK`` and ``WORLD_SIZE``
is a plain single-process run. Nothing here starts a process group (see :mod:`nextwatch.distributed.ddp`),
so this module is cheap to import and easy to test.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from nextwatch.device import cpu_count
from nextwatch.errors import InputError

#: seconds a collective (barrier, gradient all-reduce) waits for a silent peer before failing the run
ENV_TIMEOUT = "NEXTWATCH_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800
#: debugging aid: every rank saves its final weights to ``DIR/rank-<r>.pt`` (the tests compare them)
ENV_RANK_WEIGHTS = "NEXTWATCH_RANK_WEIGHTS_DIR"


def _int_var(env: Mapping[str, str], name: str, default: int | None = None) -> int:
    text = env.get(name)
    if text is None or text == "":
        if default is None:
            raise InputError(
                f"${name} is not set, but RANK/WORLD_SIZE say this is a distributed run",
                hint="start distributed runs with torchrun (python -m torch.distributed.run), which sets "
                "RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT",
            )
        return default
    try:
        return int(text)
    except ValueError:
        raise InputError(f"${name}={text!r} must be an integer") from None


@dataclass(frozen=True)
class LaunchEnv:
    """This worker's place in a distributed job, as the launcher set it."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    master_addr: str
    master_port: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LaunchEnv | None:
        """The launch described by ``environ`` (default ``os.environ``), or None outside a launcher.

        ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE`` default to ``RANK`` and ``WORLD_SIZE`` (one node);
        inconsistent values are an :class:`~nextwatch.errors.InputError` naming the variable.
        """
        env = os.environ if environ is None else environ
        if "RANK" not in env and "WORLD_SIZE" not in env:
            return None
        world = _int_var(env, "WORLD_SIZE")
        rank = _int_var(env, "RANK")
        local_world = _int_var(env, "LOCAL_WORLD_SIZE", world)
        local_rank = _int_var(env, "LOCAL_RANK", rank if local_world == world else None)
        if world < 1:
            raise InputError(f"$WORLD_SIZE={world} must be >= 1")
        if not 0 <= rank < world:
            raise InputError(f"$RANK={rank} must be in 0..{world - 1} (WORLD_SIZE={world})")
        if not 1 <= local_world <= world:
            raise InputError(f"$LOCAL_WORLD_SIZE={local_world} must be in 1..{world} (WORLD_SIZE={world})")
        if not 0 <= local_rank < local_world:
            raise InputError(
                f"$LOCAL_RANK={local_rank} must be in 0..{local_world - 1} (LOCAL_WORLD_SIZE={local_world})"
            )
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if not env.get(name):
                raise InputError(
                    f"${name} is not set, so the ranks cannot find each other",
                    hint="torchrun sets it (--standalone, or --rdzv-endpoint HOST:PORT across nodes)",
                )
        return cls(rank, world, local_rank, local_world, env["MASTER_ADDR"], env["MASTER_PORT"])

    def default_threads(self) -> int:
        """Torch threads per worker when none are asked for: this node's cores shared evenly (at least 1)."""
        return max(1, cpu_count() // self.local_world_size)


def collective_timeout(environ: Mapping[str, str] | None = None) -> timedelta:
    """How long a collective waits for a silent rank: ``$NEXTWATCH_DIST_TIMEOUT`` seconds, default 30 min.

    A rank that *exits* (an error) is noticed at once: torchrun stops the other workers of its node and
    a peer's broken connection fails the collective. The timeout catches a rank that hangs or a node
    that vanishes. It must exceed the longest time one rank works alone while the others wait in a
    barrier (rank 0 computing a split of 100M ratings takes minutes).
    """
    env = os.environ if environ is None else environ
    text = env.get(ENV_TIMEOUT, "")
    if not text:
        return timedelta(seconds=DEFAULT_TIMEOUT_S)
    try:
        seconds = float(text)
    except ValueError:
        raise InputError(f"${ENV_TIMEOUT}={text!r} must be a number of seconds") from None
    if seconds <= 0:
        raise InputError(f"${ENV_TIMEOUT}={text!r} must be > 0")
    return timedelta(seconds=seconds)
