"""Pytest fixtures pointing the real Hugging Face clients at the local :class:`~hub_server.HubServer`.

Import them from ``tests/conftest.py``::

    from tests.hub_fixtures import hub_env, hub_server  # noqa: F401

* ``hub_server`` (session): one running :class:`HubServer`; repos persist for the whole session, so tests
  should use their own repo names (see :meth:`HubEnv.unique_repo_id`).
* ``hub_env`` (function): a :class:`HubEnv`. For the duration of the test the process is configured as if
  ``HF_ENDPOINT``/``HF_TOKEN``/``HF_HOME``... had been exported before Python started: the environment
  variables are set *and* the values that ``huggingface_hub``, ``datasets`` and ``transformers`` froze at
  import time are patched (``huggingface_hub.constants.ENDPOINT``, ``HUGGINGFACE_CO_URL_TEMPLATE``, cache
  paths, offline/xet/telemetry switches, the endpoint of the module-level ``HfApi`` behind
  ``huggingface_hub.create_repo`` & co, ``datasets.config``...). The shared HTTP client and the
  ``HfFileSystem`` instance cache are reset on entry and exit. Everything is restored afterwards.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

try:  # imported as ``tests.hub_fixtures`` (rootdir on sys.path) or as ``hub_fixtures`` (tests/ on sys.path)
    from .hub_server import HubServer
except ImportError:  # pragma: no cover
    from hub_server import HubServer  # type: ignore[no-redef]

__all__ = ["HubEnv", "hub_env", "hub_server", "configure_hub_clients"]

_CLEARED_ENV = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "HF_HUB_CACHE",
    "HF_ASSETS_CACHE",
    "HF_XET_CACHE",
    "HF_TOKEN_PATH",
    "HF_DATASETS_CACHE",
    "HF_MODULES_CACHE",
    "HUGGING_FACE_HUB_TOKEN",
    "HUGGINGFACE_CO_STAGING",
    "HF_HUB_ENABLE_HF_TRANSFER",
    "HF_DATASETS_DOWNLOADED_DATASETS_PATH",
    "HF_DATASETS_EXTRACTED_DATASETS_PATH",
)


@dataclass
class HubEnv:
    """What a test needs to talk to the local Hub."""

    server: HubServer
    endpoint: str
    token: str
    user: str
    hf_home: Path
    hub_cache: Path

    def api(self) -> Any:
        """A fresh ``huggingface_hub.HfApi`` (it picks the patched endpoint and token up by itself)."""
        from huggingface_hub import HfApi

        return HfApi()

    def unique_repo_id(self, stem: str = "repo") -> str:
        """``<user>/<stem>-<random>``: repos live as long as the session-scoped server."""
        return f"{self.user}/{stem}-{uuid.uuid4().hex[:10]}"

    def subprocess_env(self, **overrides: str) -> dict[str, str]:
        """Environment for a fresh interpreter (``subprocess``) sharing this endpoint, token and cache."""
        env = dict(os.environ)
        env.update(overrides)
        return env


def configure_hub_clients(monkeypatch: pytest.MonkeyPatch, endpoint: str, token: str, hf_home: Path) -> Path:
    """Point every Hub client of this process at ``endpoint`` with ``token`` and a cache under ``hf_home``.

    Returns the hub cache directory. All changes are made through ``monkeypatch`` and undone by it.
    """
    endpoint = endpoint.rstrip("/")
    hub_cache = hf_home / "hub"
    hub_cache.mkdir(parents=True, exist_ok=True)
    loopback = "127.0.0.1,localhost"

    # 1. Environment, for code (and subprocesses) that reads it at call time or at import time.
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    no_proxy = ",".join(v for v in (os.environ.get("NO_PROXY"), loopback) if v)
    env = {
        "HF_ENDPOINT": endpoint,
        "HF_TOKEN": token,
        "HF_HOME": str(hf_home),
        "HUGGINGFACE_HUB_CACHE": str(hub_cache),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_DISABLE_SYMLINKS_WARNING": "1",
        "DISABLE_TELEMETRY": "1",
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    # 2. Values frozen at import time by huggingface_hub (import it now, so that restoring works).
    import huggingface_hub
    import huggingface_hub.constants as C
    from huggingface_hub import hf_api
    from huggingface_hub.hf_file_system import HfFileSystem

    host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    constants: dict[str, Any] = {
        "ENDPOINT": endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": frozenset(C.HF_URL_HOSTS) | {host},
        "HF_HOME": str(hf_home),
        "HUGGINGFACE_HUB_CACHE": str(hub_cache),
        "HF_HUB_CACHE": str(hub_cache),
        "HUGGINGFACE_ASSETS_CACHE": str(hf_home / "assets"),
        "HF_ASSETS_CACHE": str(hf_home / "assets"),
        "HF_XET_CACHE": str(hf_home / "xet"),
        "HF_TOKEN_PATH": str(hf_home / "token"),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
        "CHECK_FOR_UPDATE_DONE_PATH": str(hf_home / ".check_for_update_done"),
        "CHECK_FOR_SKILL_UPDATE_DONE_PATH": str(hf_home / ".check_for_skill_update_done"),
        "AGENT_HARNESSES_PATH": str(hf_home / ".agent_harnesses.json"),
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_XET": True,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_UPDATE_CHECK": True,
    }
    for name, value in constants.items():
        monkeypatch.setattr(C, name, value, raising=False)
    # `from ..constants import X` copies in submodules, and the module-level HfApi behind the public functions
    # (`huggingface_hub.create_repo`, `list_repo_files`, ...) whose endpoint was fixed at import time.
    copies = {
        "huggingface_hub.utils._cache_manager": {"HF_HUB_CACHE": str(hub_cache)},
        "huggingface_hub.utils._cache_assets": {"HF_ASSETS_CACHE": str(hf_home / "assets")},
        "huggingface_hub.utils._git_credential": {"ENDPOINT": endpoint},
        "huggingface_hub.cli.auth": {"ENDPOINT": endpoint},
    }
    for module_name, values in copies.items():
        module = sys.modules.get(module_name)
        for name, value in values.items():
            if module is not None and hasattr(module, name):
                monkeypatch.setattr(module, name, value)
    monkeypatch.setattr(hf_api.api, "endpoint", endpoint)

    # 3. datasets freezes its endpoint, cache paths and offline switch in `datasets.config` at import time.
    if importlib.util.find_spec("datasets") is not None:
        import datasets.config as D

        ds_cache = hf_home / "datasets"
        ds_values: dict[str, Any] = {
            "HF_ENDPOINT": endpoint,
            "HUB_DATASETS_URL": endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}",
            "HF_CACHE_HOME": str(hf_home),
            "HF_DATASETS_CACHE": ds_cache,
            "HF_MODULES_CACHE": hf_home / "modules",
            "DOWNLOADED_DATASETS_PATH": ds_cache / D.DOWNLOADED_DATASETS_DIR,
            "EXTRACTED_DATASETS_PATH": ds_cache / D.DOWNLOADED_DATASETS_DIR / D.EXTRACTED_DATASETS_DIR,
            "HF_HUB_OFFLINE": False,
            "HF_DATASETS_OFFLINE": False,
        }
        for name, value in ds_values.items():
            monkeypatch.setattr(D, name, value, raising=False)

    # 4. transformers reads huggingface_hub.constants at call time; only its dynamic-module cache is frozen.
    for module_name in ("transformers.utils.hub", "transformers.dynamic_module_utils"):
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, "HF_MODULES_CACHE"):
            monkeypatch.setattr(module, "HF_MODULES_CACHE", str(hf_home / "modules"))

    # 5. Drop state bound to a previous endpoint/environment: pooled connections (and proxy settings) of the
    # shared httpx client, and fsspec's cached HfFileSystem instances with their directory listings.
    huggingface_hub.close_session()
    HfFileSystem.clear_instance_cache()
    return hub_cache


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """A running Hub-compatible server on 127.0.0.1 for the whole test session."""
    server = HubServer(tmp_path_factory.mktemp("hub-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hub_env(hub_server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubEnv]:
    """Point this process's Hub clients at ``hub_server``, with a fresh ``HF_HOME`` in ``tmp_path``."""
    hf_home = tmp_path / "hf_home"
    hub_server.clear_request_log()
    hub_cache = configure_hub_clients(monkeypatch, hub_server.endpoint, hub_server.token, hf_home)
    yield HubEnv(
        server=hub_server,
        endpoint=hub_server.endpoint,
        token=hub_server.token,
        user=hub_server.user,
        hf_home=hf_home,
        hub_cache=hub_cache,
    )
    hub_server.clear_faults()
    errors = hub_server.take_errors()
    import huggingface_hub
    from huggingface_hub.hf_file_system import HfFileSystem

    huggingface_hub.close_session()
    HfFileSystem.clear_instance_cache()
    if errors:
        pytest.fail("hub server raised while serving:\n" + "\n".join(errors), pytrace=False)
