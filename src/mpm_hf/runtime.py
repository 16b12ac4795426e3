"""Process-wide settings for fast CPU runs: keep freed memory in the C heap, flush denormal floats to zero.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves large blocks (above its mmap threshold,
at most 32 MiB) with fresh ``mmap``'ed pages and gives freed memory at the top of the heap back to the OS. Every
forward pass of a large batch then page-faults its activations into existence again, and the kernel zeroes each
page: with a 243-frame model at batch 32 the bias-broadcast copies inside ``addmm`` (the first touch of each
output) took a third of a forward pass (profiled: 2.86 s -> 1.90 s of CPU time per call once memory is kept).

``keep_freed_memory()`` asks glibc, through ``mallopt``, to serve every block from the heap (``M_MMAP_MAX = 0``) and
never trim it (``M_TRIM_THRESHOLD``), so that the next batch reuses the pages of the previous one. The price is
that the process keeps its peak heap size until it exits, so it is for processes that do the lifting work: the
``mpm-hf`` command line, the example scripts, the demo and the benchmarks call it; a library user opts in by
calling it (or by setting the same ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...`` environment variables, or
by preloading jemalloc / tcmalloc). ``MPM_HF_KEEP_FREED_MEMORY=0`` in the environment turns the call into a no-op.

Denormal floats (magnitudes below 1.2e-38) are computed in microcode on x86 CPUs, tens of times slower than
normal ones. Training the 243-frame model produced them in the attention backward pass (softmax gradients of
near-zero attention probabilities): ``flush_denormals()`` (``torch.set_flush_denormal(True)``, the CPU's FTZ/DAZ
bits) took the softmax backward from 689 to 30 ms and the mask multiplications from 628 to 180 ms per step
(profiled, one thread). Values below 1.2e-38 become 0, which no loss or metric here can see.
``mpm_hf.training.train`` applies it on CPU (``TrainingConfig.flush_denormals``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import torch

# mallopt parameters, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_NEVER_TRIM = 2**31 - 1  # mallopt takes an int: 2 GiB - 1, far above any free block at the top of the heap
ENV_SWITCH = "MPM_HF_KEEP_FREED_MEMORY"

_state: dict[str, bool] = {}


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # musl and other C libraries have no mallopt / gnu_get_libc_version
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Make glibc ``malloc`` keep and reuse freed memory (see the module docstring). Idempotent.

    Returns whether the setting is in effect: ``False`` off Linux/glibc, when ``mallopt`` refuses it, or when
    ``MPM_HF_KEEP_FREED_MEMORY=0``.
    """
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    if "applied" in _state:
        return _state["applied"]
    libc = _glibc()
    applied = False
    if libc is not None:
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        applied = bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, _NEVER_TRIM))
    _state["applied"] = applied
    return applied


def flush_denormals() -> bool:
    """Flush denormal floats to zero on this CPU thread and the threads it starts later (see the module docstring).

    Returns whether the setting is in effect: ``False`` when the CPU lacks it (``torch.set_flush_denormal``) or
    when ``MPM_HF_FLUSH_DENORMALS=0``.
    """
    if os.environ.get("MPM_HF_FLUSH_DENORMALS", "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    return bool(torch.set_flush_denormal(True))
