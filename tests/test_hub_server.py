"""End-to-end tests of the local Hub server (``tests/hub_server.py``) with the real clients.

Nothing on the client side is mocked: ``huggingface_hub``, ``datasets`` and ``transformers`` make their real
HTTP calls to the server on 127.0.0.1 (fixtures ``hub_server`` / ``hub_env`` from ``tests/hub_fixtures.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    HfFileSystem,
    hf_hub_download,
    snapshot_download,
    try_to_load_from_cache,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from safetensors.numpy import load_file, save_file

# huggingface_hub's LFS upload (lfs.py) passes a file object as `data=` to httpx2, which deprecates it.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

CONFIG = {"model_type": "mpm", "hidden_size": 64, "num_layers": 2}


def git_blob_sha1(data: bytes) -> str:
    """Git object id of a blob (independent of the server's own implementation)."""
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def _make_folder(folder: Path, *, seed: int = 0, config: dict | None = None) -> dict[str, bytes]:
    """A small model folder: a JSON config and a real >1 MB safetensors file. Returns path -> bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config or CONFIG, indent=2))
    weights = np.random.default_rng(seed).standard_normal((400, 1000)).astype(np.float32)  # 1.6 MB
    save_file({"encoder.weight": weights}, str(folder / "model.safetensors"))
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _upload_model(
    hub_env, tmp_path: Path, stem: str = "model", **kwargs
) -> tuple[str, dict[str, bytes], str]:
    api = HfApi()
    repo_id = hub_env.unique_repo_id(stem)
    api.create_repo(repo_id)
    files = _make_folder(tmp_path / f"upload-{stem}", **kwargs)
    info = api.upload_folder(repo_id=repo_id, folder_path=tmp_path / f"upload-{stem}", commit_message="v1")
    return repo_id, files, info.oid


def _cache_files(hub_cache: Path) -> list[Path]:
    return [p for p in hub_cache.rglob("*") if p.is_file() and ".locks" not in p.parts]


# ----------------------------------------------------------------------------------------------------


def test_whoami_create_repo_and_info(hub_env):
    api = HfApi()
    assert api.whoami()["name"] == hub_env.user

    repo_id = hub_env.unique_repo_id("create")
    url = api.create_repo(repo_id)
    assert url.repo_id == repo_id and url.endpoint == hub_env.endpoint
    assert api.repo_exists(repo_id)
    assert not api.repo_exists(repo_id, repo_type="dataset")
    assert not api.repo_exists(hub_env.unique_repo_id("missing"))

    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(repo_id)
    assert err.value.response.status_code == 409
    assert api.create_repo(repo_id, exist_ok=True).repo_id == repo_id

    info = api.model_info(repo_id)
    assert len(info.sha) == 40 and info.last_modified is not None
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]  # the Hub's initial commit
    assert api.repo_info(repo_id, revision=info.sha).sha == info.sha

    with pytest.raises(HfHubHTTPError) as err:
        HfApi(token="hf_wrong").whoami()
    assert err.value.response.status_code == 401


def test_upload_folder_then_download_identical_bytes(hub_env, tmp_path):
    repo_id, files, commit = _upload_model(hub_env, tmp_path)
    api = HfApi()
    assert len(commit) == 40
    assert api.list_repo_files(repo_id) == [".gitattributes", "config.json", "model.safetensors"]

    # The Hub decided the upload mode: JSON as a regular git blob, safetensors through LFS.
    by_path = {f.path: f for f in api.list_repo_tree(repo_id, expand=True)}
    weights, config = files["model.safetensors"], files["config.json"]
    assert by_path["config.json"].lfs is None
    assert by_path["config.json"].blob_id == git_blob_sha1(config)
    assert by_path["model.safetensors"].lfs.sha256 == hashlib.sha256(weights).hexdigest()
    assert by_path["model.safetensors"].size == len(weights) > 1_000_000
    assert by_path["model.safetensors"].last_commit.oid == commit

    assert api.file_exists(repo_id, "config.json")
    assert not api.file_exists(repo_id, "nope.json")
    assert not api.file_exists(hub_env.unique_repo_id("missing"), "config.json")

    hub_env.server.clear_request_log()
    for name, data in files.items():
        path = hf_hub_download(repo_id, name)
        assert Path(path).read_bytes() == data
    # Cache blobs are named after the ETag: git sha1 for regular files, sha256 for LFS files.
    blobs = {
        p.name for p in (hub_env.hub_cache / f"models--{repo_id.replace('/', '--')}" / "blobs").iterdir()
    }
    assert blobs == {git_blob_sha1(config), hashlib.sha256(weights).hexdigest()}
    # LFS content came from the "CDN" origin, without the Authorization header.
    cdn = [r for r in hub_env.server.requests if r["path"].startswith("/__cdn__/")]
    assert cdn and all(not r["authorization"] for r in cdn)

    snapshot = Path(snapshot_download(repo_id))
    assert snapshot.name == commit
    for name, data in files.items():
        assert (snapshot / name).read_bytes() == data
    assert load_file(str(snapshot / "model.safetensors"))["encoder.weight"].shape == (400, 1000)


def test_new_commit_creates_new_revision_and_old_sha_still_serves_old_content(hub_env, tmp_path):
    repo_id, files, v1 = _upload_model(hub_env, tmp_path)
    api = HfApi()
    new_config = json.dumps({**CONFIG, "hidden_size": 128}).encode()
    v2 = api.upload_file(path_or_fileobj=new_config, path_in_repo="config.json", repo_id=repo_id).oid
    assert v2 != v1 and api.model_info(repo_id).sha == v2

    assert Path(hf_hub_download(repo_id, "config.json")).read_bytes() == new_config
    assert Path(hf_hub_download(repo_id, "config.json", revision=v1)).read_bytes() == files["config.json"]
    old = Path(snapshot_download(repo_id, revision=v1))
    assert (old / "config.json").read_bytes() == files["config.json"]
    assert [c.commit_id for c in api.list_repo_commits(repo_id)][:2] == [v2, v1]

    # Unchanged files keep their last commit; deleting a file makes a third revision.
    tree = {f.path: f for f in api.list_repo_tree(repo_id, expand=True)}
    assert tree["model.safetensors"].last_commit.oid == v1 and tree["config.json"].last_commit.oid == v2
    v3 = api.delete_file("model.safetensors", repo_id).oid
    assert api.list_repo_files(repo_id) == [".gitattributes", "config.json"]
    assert api.list_repo_files(repo_id, revision=v2) == [".gitattributes", "config.json", "model.safetensors"]
    assert not api.file_exists(repo_id, "model.safetensors", revision=v3)


def test_missing_repo_revision_and_file_errors(hub_env, tmp_path):
    repo_id, _, _ = _upload_model(hub_env, tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(hub_env.unique_repo_id("missing"), "config.json")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "config.json", revision="no-such-branch")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "missing.bin")
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download(hub_env.unique_repo_id("missing"))


def test_branches_tags_pagination_and_parent_commit(hub_env, tmp_path, monkeypatch):
    repo_id, files, v1 = _upload_model(hub_env, tmp_path)
    api = HfApi()
    api.create_branch(repo_id, branch="dev")
    api.create_tag(repo_id, tag="v1.0")
    extra = [CommitOperationAdd(f"extra/{i}.txt", f"file {i}".encode()) for i in range(5)]
    dev = api.create_commit(repo_id, extra, commit_message="extra files", revision="dev").oid
    refs = api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches} == {"main": v1, "dev": dev}
    assert [t.target_commit for t in refs.tags] == [v1]
    assert Path(hf_hub_download(repo_id, "extra/3.txt", revision="dev")).read_bytes() == b"file 3"
    assert Path(hf_hub_download(repo_id, "config.json", revision="v1.0")).read_bytes() == files["config.json"]

    monkeypatch.setattr(hub_env.server, "page_size", 2)  # force several pages (Link: rel="next")
    assert len(api.list_repo_files(repo_id, revision="dev")) == 8
    assert sorted(f.path for f in api.list_repo_tree(repo_id, "extra", revision="dev")) == [
        f"extra/{i}.txt" for i in range(5)
    ]

    with pytest.raises(HfHubHTTPError) as err:  # stale parent commit => 412 Precondition Failed
        api.create_commit(
            repo_id, [CommitOperationAdd("x.txt", b"x")], commit_message="x", revision="dev", parent_commit=v1
        )
    assert err.value.response.status_code == 412


def test_commit_rejects_lfs_pointer_to_missing_object(hub_env):
    from huggingface_hub.utils import get_session

    repo_id = hub_env.unique_repo_id("lfs-check")
    HfApi().create_repo(repo_id)
    lines = [
        {"key": "header", "value": {"summary": "bad pointer", "description": ""}},
        {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "ab" * 32, "size": 10}},
    ]
    response = get_session().post(
        f"{hub_env.endpoint}/api/models/{repo_id}/commit/main",
        content=b"".join(json.dumps(line).encode() + b"\n" for line in lines),
        headers={"Authorization": f"Bearer {hub_env.token}", "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 422
    assert HfApi().list_repo_files(repo_id) == [".gitattributes"]


def test_range_requests_through_hffilesystem(hub_env, tmp_path):
    repo_id, files, _ = _upload_model(hub_env, tmp_path)
    fs = HfFileSystem()
    weights = files["model.safetensors"]
    assert fs.cat_file(f"{repo_id}/model.safetensors", start=1000, end=1100) == weights[1000:1100]
    assert fs.cat_file(f"{repo_id}/config.json", start=2, end=12) == files["config.json"][2:12]
    assert fs.info(f"{repo_id}/model.safetensors")["size"] == len(weights)
    ranges = [r["range"] for r in hub_env.server.requests if r["range"] and r["status"] == 206]
    assert any(r.startswith("bytes=1000-") for r in ranges) and "bytes=2-64" in ranges


def test_dataset_push_to_hub_then_load_dataset(hub_env):
    import datasets

    repo_id = hub_env.unique_repo_id("ds")
    data = {"subject": ["S1", "S5", "S9"], "frames": [10, 20, 30], "score": [0.5, 0.25, 0.125]}
    datasets.Dataset.from_dict(data).push_to_hub(repo_id)
    files = HfApi().list_repo_files(repo_id, repo_type="dataset")
    assert "README.md" in files and any(f.endswith(".parquet") for f in files)

    loaded = datasets.load_dataset(repo_id, split="train")
    assert loaded.to_dict() == data


@pytest.mark.slow  # ~0.4 s of work, plus ~2.5 s to import transformers' modeling code when not yet imported
def test_transformers_model_push_to_hub_and_from_pretrained(hub_env):
    import torch
    from transformers import BertConfig, BertModel

    repo_id = hub_env.unique_repo_id("tiny-bert")
    config = BertConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=100
    )
    model = BertModel(config)
    model.push_to_hub(repo_id)
    assert {"config.json", "model.safetensors"} <= set(HfApi().list_repo_files(repo_id))

    reloaded = BertModel.from_pretrained(repo_id)
    for (name, tensor), (name2, tensor2) in zip(
        model.state_dict().items(), reloaded.state_dict().items(), strict=True
    ):
        assert name == name2 and torch.equal(tensor, tensor2)


def test_private_repo_pull_request_filesystem_write_and_delete(hub_env, tmp_path):
    api = HfApi()
    repo_id = hub_env.unique_repo_id("misc")
    api.create_repo(repo_id, private=True)
    assert not HfApi(token=False).repo_exists(repo_id)  # private: invisible without the token

    big = os.urandom(10 * 1024 * 1024)  # 10 MiB of "text": LFS because of its size alone
    api.upload_file(path_or_fileobj=big, path_in_repo="big.txt", repo_id=repo_id)
    assert next(iter(api.get_paths_info(repo_id, ["big.txt"]))).lfs is not None
    assert Path(hf_hub_download(repo_id, "big.txt", local_dir=tmp_path / "local")).read_bytes() == big

    pr = api.create_commit(
        repo_id, [CommitOperationAdd("pr.txt", b"pr")], commit_message="pr", create_pr=True
    )
    assert pr.pr_num == 1 and pr.pr_revision == "refs/pr/1"
    assert Path(hf_hub_download(repo_id, "pr.txt", revision=pr.pr_revision)).read_bytes() == b"pr"
    assert not api.file_exists(repo_id, "pr.txt")  # main is untouched

    fs = HfFileSystem()
    with fs.open(f"{repo_id}/dir/a.txt", "w") as f:
        f.write("hello")
    assert fs.read_text(f"{repo_id}/dir/a.txt") == "hello"
    api.delete_folder("dir", repo_id)
    assert "dir/a.txt" not in api.list_repo_files(repo_id)

    api.update_repo_settings(repo_id, private=False)
    assert HfApi(token=False).repo_exists(repo_id)
    api.delete_repo(repo_id)
    assert not api.repo_exists(repo_id)


_OFFLINE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo_id, missing_repo = sys.argv[1], sys.argv[2]
    out = {"config": open(hf_hub_download(repo_id, "config.json")).read()}
    out["snapshot"] = snapshot_download(repo_id)
    for name, call in (
        ("file", lambda: hf_hub_download(missing_repo, "config.json")),
        ("snapshot", lambda: snapshot_download(missing_repo)),
    ):
        try:
            call()
        except LocalEntryNotFoundError as err:
            chain = [f"{type(err).__name__}: {err}"]
            if err.__cause__ is not None:
                chain.append(f"{type(err.__cause__).__name__}: {err.__cause__}")
            out[name + "_error"] = "\\n".join(chain)
    print(json.dumps(out))
    """
)


def test_offline_mode_in_fresh_interpreter(hub_env, tmp_path):
    repo_id, files, commit = _upload_model(hub_env, tmp_path)
    snapshot_download(repo_id)  # populate the cache while online
    hub_env.server.clear_request_log()

    result = subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT, repo_id, hub_env.unique_repo_id("never-cached")],
        env=hub_env.subprocess_env(HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["config"].encode() == files["config.json"]
    assert Path(out["snapshot"]).name == commit
    assert "offline mode is enabled" in out["file_error"] and "HF_HUB_OFFLINE" in out["file_error"]
    assert "HF_HUB_OFFLINE" in out["snapshot_error"]
    assert hub_env.server.requests == []  # offline really means no HTTP at all


def test_connection_cut_mid_download_leaves_no_usable_partial_file(hub_env, tmp_path):
    repo_id, files, _ = _upload_model(hub_env, tmp_path)
    # The body is cut after 100 kB; the client retries (resuming) once, and that retry gets a 500.
    hub_env.server.fail_next_download("model.safetensors", after_bytes=100_000)
    hub_env.server.fail_next_request("model.safetensors", status=500)
    with pytest.raises(HfHubHTTPError) as err:
        hf_hub_download(repo_id, "model.safetensors")
    assert err.value.response.status_code == 500

    # Nothing in the cache pretends to be the file: no blob, no snapshot entry, no leftover ".incomplete".
    assert try_to_load_from_cache(repo_id, "model.safetensors") is None
    sha256 = hashlib.sha256(files["model.safetensors"]).hexdigest()
    assert not any(p.name.startswith(sha256) for p in _cache_files(hub_env.hub_cache))
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download(repo_id, "model.safetensors", local_files_only=True)

    # A later, healthy download gives the complete file.
    path = hf_hub_download(repo_id, "model.safetensors")
    assert Path(path).read_bytes() == files["model.safetensors"]


def test_single_connection_cut_is_retried_transparently(hub_env, tmp_path):
    repo_id, files, _ = _upload_model(hub_env, tmp_path)
    hub_env.server.fail_next_download("model.safetensors", after_bytes=50_000)
    path = hf_hub_download(repo_id, "model.safetensors")
    assert Path(path).read_bytes() == files["model.safetensors"]
    cdn_prefix = f"/__cdn__/models/{repo_id}/"
    gets = [r for r in hub_env.server.requests if r["method"] == "GET" and r["path"].startswith(cdn_prefix)]
    assert len(gets) == 2  # the cut request, then the client's own retry


def test_hub_outage_falls_back_to_cached_file(hub_env, tmp_path):
    repo_id, files, _ = _upload_model(hub_env, tmp_path)
    first = hf_hub_download(repo_id, "config.json")
    hub_env.server.fail_next_request("config.json", status=503, methods=("HEAD",))
    assert hf_hub_download(repo_id, "config.json") == first


def test_tampered_files(hub_env, tmp_path):
    repo_id, files, commit = _upload_model(hub_env, tmp_path)
    server, api = hub_env.server, HfApi()

    # 1. A stored LFS object whose size no longer matches the pointer: hf_hub_download compares the bytes it
    #    received with X-Linked-Size and refuses the file; nothing lands in the cache.
    server.tamper(repo_id, "model.safetensors", files["model.safetensors"][:-10])
    with pytest.raises(OSError, match="Consistency check failed"):
        hf_hub_download(repo_id, "model.safetensors")
    assert try_to_load_from_cache(repo_id, "model.safetensors") is None
    server.clear_faults()

    # 2. Same-size corruption is NOT noticed by hf_hub_download (it hashes nothing), but the checksums the Hub
    #    publishes (sha256 for LFS files, git blob sha1 for regular ones) expose it.
    server.tamper(repo_id, "model.safetensors")  # flips one byte
    server.tamper(repo_id, "config.json", files["config.json"].replace(b"mpm", b"MPM"))
    snapshot = Path(snapshot_download(repo_id))
    assert (snapshot / "model.safetensors").read_bytes() != files["model.safetensors"]
    report = api.verify_repo_checksums(repo_id, revision=commit)
    mismatches = {m["path"]: m["algorithm"] for m in report.mismatches}
    assert mismatches == {"model.safetensors": "sha256", "config.json": "git-sha1"}


def test_server_rejects_unauthenticated_writes(hub_env):
    api = HfApi(token=False)
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(f"{hub_env.user}/anonymous")
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as err:
        HfApi().create_repo("someone-else/repo")
    assert err.value.response.status_code == 403


def test_server_side_seeding_helpers(hub_env):
    server = hub_env.server
    repo_id = hub_env.unique_repo_id("seeded")
    server.create_repo(repo_id)
    weights = os.urandom(2048)
    sha = server.commit_files(repo_id, {"config.json": b"{}", "weights/model.safetensors": weights})
    assert server.head(repo_id) == sha
    assert (
        server.file_info(repo_id, "weights/model.safetensors")["sha256"]
        == hashlib.sha256(weights).hexdigest()
    )
    assert Path(hf_hub_download(repo_id, "weights/model.safetensors")).read_bytes() == weights
