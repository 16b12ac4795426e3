"""mpm_hf.runtime: glibc malloc keeps freed memory for reuse, in a separate process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import sys, torch
from mpm_hf.runtime import keep_freed_memory
applied = keep_freed_memory()
assert keep_freed_memory() == applied  # idempotent
def faults():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):  # warm-up: the heap grows to hold the block (it can take a few rounds)
    x = torch.empty(64 * 2**20 // 4)  # 64 MiB: above glibc's largest mmap threshold
    x.fill_(1.0)
    del x
before = faults()
for _ in range(5):
    y = torch.empty(64 * 2**20 // 4)
    y.fill_(1.0)
    del y
print(int(applied), faults() - before)
"""


def run_probe(**env: str) -> tuple[int, int]:
    environment = {**os.environ, **env}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=environment,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    applied, page_faults = done.stdout.split()
    return int(applied), int(page_faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_keep_freed_memory_stops_page_faulting_big_blocks():
    import ctypes.util

    if "libc.so" not in (ctypes.util.find_library("c") or ""):
        pytest.skip("not glibc")
    applied, kept_faults = run_probe()
    assert applied == 1
    off, default_faults = run_probe(MPM_HF_KEEP_FREED_MEMORY="0")
    assert off == 0
    pages = 5 * 64 * 2**20 // os.sysconf("SC_PAGE_SIZE")
    assert default_faults > 0.5 * pages  # every 64 MiB block is mmap'ed afresh and faulted in page by page
    assert kept_faults < 0.05 * pages  # the heap block of the first allocation is reused


def test_flush_denormals_turns_denormal_products_into_zero():
    probe = """
import torch
from mpm_hf.runtime import flush_denormals
tiny = torch.tensor([1e-39, 3e-38], dtype=torch.float32)  # 1e-39 is denormal in float32, 3e-38 is not
before = (tiny * 1.0).tolist()
applied = flush_denormals()
after = (tiny * 1.0).tolist()
print(int(applied), before[0] > 0, after[0] == 0.0, after[1] > 0)
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    applied, denormal_before, flushed_after, normal_kept = done.stdout.split()
    assert denormal_before == "True" and normal_kept == "True"
    if applied == "1":  # x86 with SSE3 and ARM64 support it
        assert flushed_after == "True"
    off = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "MPM_HF_FLUSH_DENORMALS": "0"})
    assert off.stdout.split()[:3] == ["0", "True", "False"]
