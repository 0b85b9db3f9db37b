"""Where tensors live: the one place that picks the torch device and the CPU thread count.

Order of precedence: an explicit setting (``--device``, a function argument) -> the ``NEXTWATCH_DEVICE``
environment variable -> CUDA when PyTorch sees a GPU -> CPU. Everything that builds or loads a model
asks :func:`resolve_device`; nothing else calls ``torch.cuda.is_available()``.
"""

from __future__ import annotations

import logging
import os

import torch

from nextwatch.errors import NextwatchError

log = logging.getLogger(__name__)

ENV_DEVICE = "NEXTWATCH_DEVICE"
ENV_THREADS = "NEXTWATCH_THREADS"


def resolve_device(setting: str | torch.device | None = None) -> torch.device:
    """The device to train and score on.

    ``setting`` (e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``) wins; then ``$NEXTWATCH_DEVICE``;
    then the first CUDA GPU when one is usable; else the CPU. Asking for CUDA where there is none is a
    user error, not a silent fall back to the CPU.
    """
    if isinstance(setting, torch.device):
        return setting
    source = "setting"
    if setting in (None, "", "auto"):
        setting = os.environ.get(ENV_DEVICE) or None
        source = ENV_DEVICE
    if setting in (None, "", "auto"):
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(str(setting))
    except (RuntimeError, ValueError) as e:
        raise NextwatchError(
            f"unknown device {setting!r} (from {source})", hint="use cpu, cuda, cuda:N or auto"
        ) from e
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise NextwatchError(
                f"device {setting!r} asked for (from {source}) but PyTorch sees no CUDA GPU here",
                hint="use --device cpu, or unset " + ENV_DEVICE,
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise NextwatchError(
                f"device {setting!r} asked for (from {source}), "
                f"but only {torch.cuda.device_count()} GPU(s) exist"
            )
    elif device.type not in ("cpu", "mps"):
        raise NextwatchError(
            f"unsupported device {setting!r} (from {source})", hint="use cpu, cuda or cuda:N"
        )
    return device


def cpu_count() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``threads``, else ``$NEXTWATCH_THREADS``, else ``$OMP_NUM_THREADS``,
    else all usable cores.

    Small embedding models gain nothing from more threads than cores (oversubscription only adds
    contention), so the default is exactly the cores this process may use. Returns the count set.
    """
    if threads is None:
        for var in (ENV_THREADS, "OMP_NUM_THREADS"):
            env = os.environ.get(var, "")
            if env.isdigit() and int(env) > 0:
                threads = int(env)
                break
        else:
            threads = cpu_count()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    log.debug("torch uses %d thread(s)", threads)
    return threads
