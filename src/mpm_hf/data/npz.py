"""Reading user-given ``.npz`` files of pose corpora without running code from them.

VideoPose3D's Human3.6M files and P-STMO's MPI-INF-3DHP files store nested dictionaries as pickled object arrays.
``np.load(allow_pickle=True)`` would run whatever a pickle names (``os.system`` included), so
:func:`read_npz` unpickles through a restricted unpickler: dictionaries, lists, tuples, strings, numbers, ``None``
and numpy arrays, dtypes and scalars (through numpy's own reconstruction functions) only. Any other global is a
``ValueError`` naming the file and the global; ``trust_pickle=True`` reads a file the caller trusts without the
restriction. A file that is not a readable ``.npz`` (truncated, not a zip, a missing key) is a ``ValueError``
naming the file and the layout that was expected.
"""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

__all__ = ["read_npz"]

# numpy's reconstruction functions for arrays, dtypes and scalars, under their numpy 1 and numpy 2 module names.
_ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        *((module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
          for name in ("_reconstruct", "scalar")),
        *((module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")),
    }
)
_HEADER_READERS = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
# What a truncated or foreign file raises inside zipfile / zlib / the .npy header parser / the unpickler.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, struct.error, EOFError, ValueError, pickle.UnpicklingError)


class _ForbiddenGlobal(pickle.UnpicklingError):
    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.qualified_name = f"{module}.{name}"


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the numpy globals of ``_ALLOWED_GLOBALS``; containers, strings and numbers need none."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise _ForbiddenGlobal(module, name)
        return super().find_class(module, name)


def read_npz(
    path: str | os.PathLike,
    what: str,
    layout: str,
    keys: Sequence[str],
    required: Sequence[str] | None = None,
    trust_pickle: bool = False,
) -> dict[str, Any]:
    """The arrays ``keys`` of the ``.npz`` at ``path`` (those absent and not ``required`` are left out).

    A pickled 0-d object array (how ``np.savez`` stores a dictionary) is returned as its object. ``what`` names the
    file's content and ``layout`` its expected keys and structure, for the error messages. ``required`` defaults
    to all ``keys``.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file is not a readable ``.npz``, lacks a required key, or (without ``trust_pickle``) a
            pickle in it names a global other than numpy's array/dtype/scalar reconstruction.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    required = keys if required is None else required
    try:
        archive = zipfile.ZipFile(path)
    except _READ_ERRORS as error:
        raise _unreadable(path, what, layout, error) from error
    with archive:
        members = {name[: -len(".npy")]: name for name in archive.namelist() if name.endswith(".npy")}
        missing = [key for key in required if key not in members]
        if missing:
            expected = f"key {missing[0]!r}" if len(missing) == 1 else f"keys {missing}"
            raise ValueError(f"{path}: expected {expected} ({what}: {layout}), found {sorted(members)}")
        try:
            return {key: _read_member(archive, members[key], trust_pickle) for key in keys if key in members}
        except _ForbiddenGlobal as error:
            raise ValueError(
                f"{path}: refusing to unpickle {what}: the file references {error.qualified_name}, and only "
                "dictionaries, lists, tuples, strings, numbers, None and numpy arrays are read from pickles; pass "
                "trust_pickle=True only for a file whose origin you trust"
            ) from None
        except _READ_ERRORS as error:
            raise _unreadable(path, what, layout, error) from error


def _unreadable(path: Path, what: str, layout: str, error: Exception) -> ValueError:
    return ValueError(
        f"{path}: cannot read {what}: the file is truncated or not a .npz archive ({type(error).__name__}: {error}); "
        f"expected {layout}"
    )


def _read_member(archive: zipfile.ZipFile, member: str, trust_pickle: bool) -> Any:
    with archive.open(member) as handle:
        version = npy_format.read_magic(handle)
        if version not in _HEADER_READERS:  # version 3 only encodes structured dtypes with non-latin-1 names
            with archive.open(member) as again:
                return npy_format.read_array(again, allow_pickle=False)
        _, _, dtype = _HEADER_READERS[version](handle)
        if not dtype.hasobject:
            with archive.open(member) as again:
                return npy_format.read_array(again, allow_pickle=False)
        try:
            value = pickle.load(handle) if trust_pickle else _RestrictedUnpickler(handle).load()
        except _ForbiddenGlobal:
            raise
        except Exception as error:  # a damaged pickle fails in many ways (EOFError, KeyError on the memo, ...)
            raise pickle.UnpicklingError(f"{member}: {type(error).__name__}: {error}") from error
    if isinstance(value, np.ndarray) and value.dtype == object and value.shape == ():
        return value.item()
    return value
