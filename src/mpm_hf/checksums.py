"""Integrity of saved models: ``checksums.json`` (sha256 of every file a model is built from) and local paths.

``save_pretrained`` writes ``checksums.json`` next to ``config.json`` and the weights; ``from_pretrained`` hashes
every file it lists *before* anything is parsed. The Hub client checks sizes only, so without this a flipped byte
in the weights loads silently, and a truncated or corrupt file fails deep inside the safetensors or JSON parser
without naming the file. A folder or Hub repo without ``checksums.json`` (written by another tool) still loads,
with a warning that nothing was verified.

A model name that can only be a local path (``./x``, ``/x``, ``~/x``, ``a/b/c``, ``runs/x`` when ``runs/`` is a
folder here) but does not exist is reported at once, instead of after the Hub client's retries.

``mpm_hf`` installs this module as ``MPMPreTrainedModel._checkpoint_integrity`` when it is imported: the copy of
``modeling_mpm.py`` shipped inside a model folder for ``trust_remote_code`` may import only its siblings, so it
runs without these checks when the package is not installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from transformers.utils import cached_file

__all__ = [
    "CHECKSUMS_FILE",
    "check_local_path",
    "checksummed_files",
    "looks_like_local_path",
    "read_checksums",
    "sha256_file",
    "verify_checksums",
    "write_checksums",
]

CHECKSUMS_FILE = "checksums.json"
CONFIG_FILE = "config.json"
# What a model is built from: its config and every weight file (single, sharded, with a variant).
_CHECKSUMMED_PATTERNS = (CONFIG_FILE, "*.safetensors", "*.safetensors.index.json")
# ``from_pretrained`` keyword arguments that say where the files come from.
_HUB_OPTIONS = ("revision", "cache_dir", "local_files_only", "token", "subfolder", "force_download", "proxies")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_LAYOUT = '{"<file name>": "<sha256, 64 lowercase hex digits>", ...}'


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksummed_files(folder: str | os.PathLike) -> list[Path]:
    """The files of ``folder`` that ``checksums.json`` covers: ``config.json`` and the weight files, sorted."""
    folder = Path(folder)
    return sorted({path for pattern in _CHECKSUMMED_PATTERNS for path in folder.glob(pattern) if path.is_file()})


def write_checksums(folder: str | os.PathLike) -> Path:
    """Write ``folder/checksums.json`` for the files of :func:`checksummed_files`; returns its path."""
    folder = Path(folder)
    sums = {path.name: sha256_file(path) for path in checksummed_files(folder)}
    target = folder / CHECKSUMS_FILE
    target.write_text(json.dumps(sums, indent=2) + "\n")
    return target


def read_checksums(path: str | os.PathLike, where: str | None = None) -> dict[str, str]:
    """The ``{file name: sha256}`` of a ``checksums.json``; ``ValueError`` naming the file (``where``, default
    ``path``) when it is not valid JSON or not that layout (relative file names, 64-digit lowercase hex values)."""
    where = where or str(path)
    try:
        listing = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{where}: not valid JSON ({error}); expected {_LAYOUT}") from error
    if not isinstance(listing, dict) or not listing:
        raise ValueError(f"{where}: expected a non-empty JSON object {_LAYOUT}, got {_describe(listing)}")
    for name, digest in listing.items():
        parts = PurePosixPath(name).parts
        if name.startswith("/") or "\\" in name or ".." in parts or not parts:
            raise ValueError(f"{where}: file name {name!r} must be relative to the model folder; expected {_LAYOUT}")
        if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
            raise ValueError(f"{where}: {name!r} must map to a sha256 of 64 lowercase hex digits, got {digest!r}")
    return listing


def _describe(value: object) -> str:
    return "an empty object" if value == {} else f"{type(value).__name__} {str(value)[:60]}"


def looks_like_local_path(name_or_path: str | os.PathLike) -> bool:
    """Whether ``name_or_path`` can only mean a local path, never a Hub repo id ``name`` or ``org/name``.

    Path objects; strings that start with ``.``, ``/`` or ``~``, contain a backslash or more than one ``/``; and
    strings whose first component is a folder that exists here.
    """
    if not isinstance(name_or_path, str):
        return isinstance(name_or_path, os.PathLike)
    if name_or_path.startswith((".", "/", "~")) or "\\" in name_or_path or name_or_path.count("/") > 1:
        return True
    first = name_or_path.split("/", 1)[0]
    return "/" in name_or_path and os.path.isdir(first)


def check_local_path(name_or_path: str | os.PathLike) -> str | os.PathLike:
    """``name_or_path`` with ``~`` expanded; ``FileNotFoundError`` naming it when it is a local path (see
    :func:`looks_like_local_path`) that does not exist. Hub repo ids are returned unchanged."""
    if not looks_like_local_path(name_or_path):
        return name_or_path
    expanded = os.path.expanduser(name_or_path)
    if not os.path.exists(expanded):
        raise FileNotFoundError(
            f"{os.fspath(name_or_path)}: no such local folder (resolved to {os.path.abspath(expanded)}); a Hub repo "
            "id is 'name' or 'org/name'"
        )
    return expanded


def verify_checksums(name_or_path: str | os.PathLike, **kwargs) -> None:
    """Hash every file of the model folder or Hub repo ``name_or_path`` that its ``checksums.json`` lists.

    Runs before ``from_pretrained`` parses anything (Hub files are downloaded into the cache here, and found there
    by ``from_pretrained``). ``kwargs`` are ``from_pretrained``'s; those that say where the files come from
    (``revision``, ``subfolder``, ``token``, ``cache_dir``, ...) are used. Raises ``ValueError`` naming the file when
    ``checksums.json`` is malformed, when a file it lists is missing, or when a hash differs. Warns when there is no
    ``checksums.json`` (nothing is verified) or when it does not list ``config.json``.
    """
    options = {key: kwargs[key] for key in _HUB_OPTIONS if kwargs.get(key) is not None}
    prefix = "/".join(part for part in (os.fspath(name_or_path), options.get("subfolder", "")) if part)
    listing = cached_file(name_or_path, CHECKSUMS_FILE, _raise_exceptions_for_missing_entries=False,
                          _raise_exceptions_for_connection_errors=False, **options)
    if listing is None:
        warnings.warn(
            f"{prefix}: no {CHECKSUMS_FILE}, so {CONFIG_FILE} and the weights are loaded unverified (a corrupt file "
            "fails in its parser, a modified one loads silently); save_pretrained writes one",
            stacklevel=3,
        )
        return
    expected = read_checksums(listing, f"{prefix}/{CHECKSUMS_FILE}")
    if CONFIG_FILE not in expected:
        warnings.warn(f"{prefix}/{CHECKSUMS_FILE} does not list {CONFIG_FILE} (written by an older mpm-hf): the "
                      "config is loaded unverified", stacklevel=3)
    for filename, path in _resolve(name_or_path, expected, options, prefix):
        actual = sha256_file(path)
        if actual != expected[filename]:
            raise ValueError(
                f"{prefix}/{filename}: expected sha256 {expected[filename]} ({CHECKSUMS_FILE}), got {actual}: the "
                "file is corrupt, truncated or was modified; delete it (or its Hub cache entry) and download it again"
            )


def _resolve(name_or_path, expected: dict[str, str], options: dict, prefix: str) -> Iterator[tuple[str, str]]:
    """``(file name, local path)`` of every listed file, downloading Hub files into the cache."""
    folder = os.path.join(os.fspath(name_or_path), options.get("subfolder", ""))
    local = os.path.isdir(name_or_path)
    for filename in expected:
        if not local:  # OSError naming the file when the repo lacks it, or when offline and it is not cached
            yield filename, cached_file(name_or_path, filename, **options)
        elif os.path.isfile(path := os.path.join(folder, filename)):
            yield filename, path
        else:
            raise ValueError(f"{prefix}/{filename}: listed in {CHECKSUMS_FILE} but not in the folder (an incomplete "
                             "copy)")
