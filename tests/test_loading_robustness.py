"""Robust loading: checksums checked before parsing, local paths, pickles that cannot run code, corrupt files,
and released checkpoints that do not fit."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import HfApi

from mpm_hf import AutoModelForPoseLifting, MPMConfig, MPMForPoseLifting, MPMPreTrainedModel, checksums
from mpm_hf.auto import head_class_for
from mpm_hf.conversion import convert_released_checkpoint
from mpm_hf.data.amass import load_amass_arrays
from mpm_hf.data.h36m import load_h36m_arrays
from mpm_hf.data.mpi_inf_3dhp import TEST_FILE, load_mpi_inf_3dhp_arrays
from mpm_hf.data.npz import read_npz

from .conftest import REPO_ROOT
from .test_amass import h36m_regressor, write_body_model
from .test_h36m import _write_dataset

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from reference_mpm import ReferenceMPMLift  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")  # LFS upload, httpx


def tiny_model(seed: int = 0) -> MPMForPoseLifting:
    torch.manual_seed(seed)
    config = MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                       num_hidden_layers=1)
    return MPMForPoseLifting(config).eval()


@pytest.fixture
def saved(tmp_path) -> tuple[MPMForPoseLifting, Path]:
    model = tiny_model()
    model.save_pretrained(tmp_path / "model")
    return model, tmp_path / "model"


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[key], state_b[key]) for key in state_a)


def load_quietly(folder: Path) -> MPMForPoseLifting:
    """``from_pretrained`` that fails on any warning of ``mpm_hf.checksums``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*(checksums.json|unverified).*")
        return MPMForPoseLifting.from_pretrained(folder)


# ---------------------------------------------------------------------------------------------------------------
# checksums.json
# ---------------------------------------------------------------------------------------------------------------


def test_checksums_cover_config_and_weights_and_round_trip(saved):
    model, folder = saved
    listing = json.loads((folder / "checksums.json").read_text())
    assert set(listing) == {"config.json", "model.safetensors"}
    for name, digest in listing.items():
        assert digest == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert_same_weights(load_quietly(folder), model)


def test_sharded_checkpoint_lists_every_shard_and_the_index(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    shards = sorted(path.name for path in tmp_path.glob("model-*.safetensors"))
    assert len(shards) > 1
    listing = json.loads((tmp_path / "checksums.json").read_text())
    assert set(listing) == {"config.json", "model.safetensors.index.json", *shards}
    assert_same_weights(load_quietly(tmp_path), model)
    last = tmp_path / shards[-1]
    last.write_bytes(last.read_bytes()[:-10])
    with pytest.raises(ValueError, match=f"{shards[-1]}: expected sha256"):
        MPMForPoseLifting.from_pretrained(tmp_path)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_header_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF  # inside the safetensors JSON header
    path.write_bytes(bytes(data))


def _break_json(path: Path) -> None:
    path.write_text(path.read_text()[:-40])


@pytest.mark.parametrize(("filename", "damage"), [("model.safetensors", _truncate),
                                                  ("model.safetensors", _flip_header_byte),
                                                  ("config.json", _break_json)])
def test_corrupt_files_are_refused_by_name_before_any_parser_sees_them(saved, filename, damage):
    _, folder = saved
    damage(folder / filename)
    # the parsers would raise SafetensorError / OSError ("not a valid JSON file"): a ValueError naming the file
    # means the hash was compared first
    with pytest.raises(ValueError, match=f"{folder / filename}: expected sha256 [0-9a-f]{{64}} \\(checksums.json\\)"):
        MPMForPoseLifting.from_pretrained(folder)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["model.safetensors"]', "expected a non-empty JSON object"),
        ("{}", "expected a non-empty JSON object"),
        ('{"model.safetensors": "abc"}', "'model.safetensors' must map to a sha256 of 64 lowercase hex digits"),
        ('{"model.safetensors": 12}', "must map to a sha256"),
        (json.dumps({"../secret": "0" * 64}), "file name '../secret' must be relative"),
        (json.dumps({"/etc/hostname": "0" * 64}), "must be relative"),
    ],
)
def test_malformed_checksums_json_is_a_value_error_naming_it(saved, content, message):
    _, folder = saved
    (folder / "checksums.json").write_text(content)
    with pytest.raises(ValueError, match=f"{folder / 'checksums.json'}: .*{message}"):
        MPMForPoseLifting.from_pretrained(folder)


def test_listed_file_missing_from_the_folder(saved):
    _, folder = saved
    listing = json.loads((folder / "checksums.json").read_text())
    (folder / "checksums.json").write_text(json.dumps({**listing, "extra.safetensors": "0" * 64}))
    with pytest.raises(ValueError, match="extra.safetensors: listed in checksums.json but not in the folder"):
        MPMForPoseLifting.from_pretrained(folder)


def test_folder_without_checksums_loads_with_a_warning(saved):
    model, folder = saved
    (folder / "checksums.json").unlink()
    with pytest.warns(UserWarning, match=f"{folder}: no checksums.json, so config.json and the weights are loaded "
                                         "unverified"):
        loaded = MPMForPoseLifting.from_pretrained(folder)
    assert_same_weights(loaded, model)


def test_older_checksums_without_config_warn_and_still_verify_the_weights(saved):
    _, folder = saved
    listing = json.loads((folder / "checksums.json").read_text())
    (folder / "checksums.json").write_text(json.dumps({"model.safetensors": listing["model.safetensors"]}))
    with pytest.warns(UserWarning, match="does not list config.json"):
        MPMForPoseLifting.from_pretrained(folder)
    _truncate(folder / "model.safetensors")
    with pytest.raises(ValueError, match="model.safetensors: expected sha256"), pytest.warns(UserWarning):
        MPMForPoseLifting.from_pretrained(folder)


def test_hub_repo_without_checksums_loads_with_a_warning(hub_env):
    repo_id = hub_env.unique_repo_id("no-checksums")
    model = tiny_model(seed=3)
    model.push_to_hub(repo_id)
    api = HfApi()
    assert "checksums.json" in api.list_repo_files(repo_id)
    api.delete_file("checksums.json", repo_id=repo_id)
    with pytest.warns(UserWarning, match=f"{repo_id}: no checksums.json"):
        loaded = MPMForPoseLifting.from_pretrained(repo_id)
    assert_same_weights(loaded, model)


def test_shipped_checkpoint_verifies_its_config_and_weights():
    folder = REPO_ROOT / "pretrained" / "mpm-h36m-27f"
    assert set(json.loads((folder / "checksums.json").read_text())) == {"config.json", "model.safetensors"}
    load_quietly(folder)


def test_save_pretrained_into_an_existing_file_is_an_error(tmp_path):
    target = tmp_path / "model"
    target.write_text("not a folder")
    with pytest.raises(ValueError, match=f"save_directory: expected a folder, got the existing file {target}"):
        tiny_model().save_pretrained(target)
    assert target.read_text() == "not a folder"


def test_library_classes_verify_and_the_shipped_modeling_file_imports_only_its_siblings(hub_env, saved):
    from transformers.dynamic_module_utils import get_class_from_dynamic_module, get_relative_imports

    assert MPMPreTrainedModel._checkpoint_integrity is checksums
    model, folder = saved
    # transformers copies a remote-code module with its relative imports only: mpm_hf.checksums is not among them
    assert sorted(get_relative_imports(folder / "modeling_mpm.py")) == ["configuration_mpm"]
    # what AutoModel.from_pretrained(folder, trust_remote_code=True) runs when mpm_hf is not installed
    remote_class = get_class_from_dynamic_module("modeling_mpm.MPMForPoseLifting", folder)
    assert remote_class.__module__.startswith("transformers_modules.") and remote_class is not MPMForPoseLifting
    assert remote_class._checkpoint_integrity is None
    remote = remote_class.from_pretrained(folder).eval()
    assert_same_weights(remote, model)
    x = torch.randn(2, 9, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(remote(poses=x).poses_3d, model(poses=x).poses_3d)


# ---------------------------------------------------------------------------------------------------------------
# Local paths
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pretrained/does-not-exist", "./nope", "~/mpm-hf-not-here", "a/b/c", "..\\x"])
def test_missing_local_path_fails_at_once_naming_it(name, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # "pretrained" exists here: "pretrained/does-not-exist" can only be local
    for load in (MPMForPoseLifting.from_pretrained, AutoModelForPoseLifting.from_pretrained,
                 lambda n: head_class_for(n, "lifting")):
        start = time.perf_counter()
        with pytest.raises(FileNotFoundError, match=f"^{re.escape(name)}: no such local folder"):
            load(name)
        assert time.perf_counter() - start < 1.0  # the Hub client would retry for ~20 s


def test_local_path_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    local = ["./x", "/x", "~/x", "a\\b", "a/b/c", "runs/x", Path("x")]
    hub = ["org/name", "name", "runs"]
    assert [checksums.looks_like_local_path(name) for name in local] == [True] * len(local)
    assert [checksums.looks_like_local_path(name) for name in hub] == [False] * len(hub)
    assert checksums.check_local_path("org/name") == "org/name"


def test_home_relative_path_is_expanded(saved, monkeypatch):
    model, folder = saved
    monkeypatch.setenv("HOME", str(folder.parent))
    assert_same_weights(load_quietly(Path("~") / folder.name), model)
    assert_same_weights(load_quietly(f"~/{folder.name}"), model)


# ---------------------------------------------------------------------------------------------------------------
# Pickles in .npz files
# ---------------------------------------------------------------------------------------------------------------


class _Payload:
    """Unpickling this calls ``function(*args)``: a file is created if the pickle is executed."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _pickled_npz(path: Path, **objects) -> Path:
    arrays = {}
    for key, value in objects.items():
        arrays[key] = np.empty((), dtype=object)
        arrays[key][()] = value
    np.savez(path, **arrays)
    return path


def _malicious_payloads(marker: Path) -> dict[str, _Payload]:
    return {"io.open": _Payload(open, str(marker), "w"), "posix.system": _Payload(os.system, f"touch '{marker}'")}


@pytest.mark.parametrize("global_name", ["io.open", "posix.system"])
def test_malicious_pickle_in_h36m_file_is_refused_and_not_run(tmp_path, global_name):
    if global_name == "posix.system" and os.name != "posix":
        pytest.skip("os.system is posix.system on POSIX only")
    marker = tmp_path / "pwned"
    payload = _malicious_payloads(marker)[global_name]
    folder = tmp_path / "h36m"
    folder.mkdir()
    _pickled_npz(folder / "data_3d_h36m.npz", positions_3d={"S1": {"Walking": payload}})
    with pytest.raises(ValueError, match=f"data_3d_h36m.npz: refusing to unpickle .*references {global_name}"):
        load_h36m_arrays(folder, subjects=("S1",))
    assert not marker.exists()
    # the same file with consent runs the payload: the check above is what kept it from running
    with pytest.raises(ValueError):  # the payload's return value is not a (N, 32, 3) array
        load_h36m_arrays(folder, subjects=("S1",), trust_pickle=True)
    assert marker.exists()


def test_malicious_pickle_in_3dhp_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    _pickled_npz(tmp_path / TEST_FILE, data={"TS1": _malicious_payloads(marker)["io.open"]})
    with pytest.raises(ValueError, match=f"{TEST_FILE}: refusing to unpickle .*io.open.*trust_pickle=True"):
        load_mpi_inf_3dhp_arrays(tmp_path, split="test")
    assert not marker.exists()


def test_restricted_unpickler_reads_nested_containers_numpy_arrays_and_scalars(tmp_path):
    value = {"S1": {"Walking 1": [np.arange(6, dtype=np.float32).reshape(1, 2, 3), np.zeros((2, 16, 2))]},
             "meta": ("h36m", 17, 1.5, True, None, [np.int64(3), np.float32(0.25)], np.dtype("float64"),
                      np.array(["a", "bc"]))}
    path = _pickled_npz(tmp_path / "nested.npz", value=value)
    np.savez(tmp_path / "plain.npz", a=np.arange(4))
    read = read_npz(path, "test data", "'value'", ("value",))["value"]
    trusted = read_npz(path, "test data", "'value'", ("value",), trust_pickle=True)["value"]
    for result in (read, trusted):
        np.testing.assert_array_equal(result["S1"]["Walking 1"][0], value["S1"]["Walking 1"][0])
        assert result["S1"]["Walking 1"][0].dtype == np.float32 and result["S1"]["Walking 1"][1].shape == (2, 16, 2)
        assert result["meta"][:5] == value["meta"][:5] and result["meta"][5] == [3, np.float32(0.25)]
        assert result["meta"][6] == np.dtype("float64") and list(result["meta"][7]) == ["a", "bc"]
    np.testing.assert_array_equal(read_npz(tmp_path / "plain.npz", "x", "'a'", ("a",))["a"], np.arange(4))


@pytest.mark.shared_data
def test_real_h36m_files_load_through_the_restricted_unpickler(shared_data_dir):
    folder = shared_data_dir / "h36m"
    path = folder / "data_2d_h36m_sh_pt_mpii.npz"
    restricted = read_npz(path, "2D", "positions_2d", ("positions_2d", "metadata"))
    with np.load(path, allow_pickle=True) as archive:
        reference = archive["positions_2d"].item()
        assert restricted["metadata"] == archive["metadata"].item()
    assert restricted["positions_2d"].keys() == reference.keys()
    for subject, actions in reference.items():
        assert restricted["positions_2d"][subject].keys() == actions.keys()
    for a, b in zip(restricted["positions_2d"]["S9"]["Walking"], reference["S9"]["Walking"], strict=True):
        np.testing.assert_array_equal(a, b)
    # the 3D file too (~10 s: 130 MB of pickled arrays)
    rows = load_h36m_arrays(folder, subjects=("S9",), keypoints="sh_pt_mpii", actions=("Walking",))
    assert len(rows) == 2 * 4 and rows[0]["poses_3d"].shape[1:] == (17, 3)


# ---------------------------------------------------------------------------------------------------------------
# Corrupt .npz files
# ---------------------------------------------------------------------------------------------------------------


def _valid_3d() -> dict:
    return {"S1": {"Walking": np.zeros((4, 32, 3), np.float32)}}


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(b"definitely not a zip archive"), "truncated or not a .npz archive"),
        (lambda p: (_pickled_npz(p, positions_3d=_valid_3d()), _truncate(p)), "truncated or not a .npz archive"),
        (lambda p: _pickled_npz(p, poses=_valid_3d()), r"expected key 'positions_3d'.*found \['poses'\]"),
        (lambda p: np.savez(p, positions_3d=np.zeros((4, 32, 3))), "positions_3d is a ndarray, expected a dict"),
        (lambda p: _pickled_npz(p, positions_3d={"S1": [np.zeros((4, 32, 3))]}),
         r"positions_3d\['S1'\] is a list, expected a dictionary of actions"),
        (lambda p: _pickled_npz(p, positions_3d={"S1": {"Walking": "x"}}), "is a str, expected an array"),
        (lambda p: _pickled_npz(p, positions_3d={"S1": {"Walking": np.zeros((4, 32, 2))}}),
         r"must have shape \(N, 32, 3\) or \(N, 17, 3\), got \(4, 32, 2\)"),
    ],
)
def test_corrupt_h36m_3d_file_names_the_file_and_layout(tmp_path, write, message):
    path = tmp_path / "data_3d_h36m.npz"
    write(path)
    with pytest.raises(ValueError, match=f"{path}: .*{message}") as error:
        load_h36m_arrays(tmp_path, subjects=("S1",))
    if "shape" not in message:
        assert "'positions_3d': {subject: {action: float array (N, 32, 3)" in str(error.value)


@pytest.mark.parametrize(
    ("positions_2d", "metadata", "message"),
    [
        ({"S1": {"Walking": np.zeros((4, 17, 2))}}, {}, r"positions_2d\['S1'\]\['Walking'\] is a ndarray, expected a "
                                                        "list of arrays, one per camera"),
        ({"S1": {"Walking": [np.zeros((4, 17, 3))] * 4}}, {}, r"holds arrays of shape \[\(4, 17, 3\).*\(N, J, 2\)"),
        ({"S1": {"Walking": [np.zeros((4, 17, 2))] * 4}}, ["h36m"], "'metadata' is a list, expected a dictionary"),
    ],
)
def test_corrupt_h36m_2d_file_names_the_file_and_layout(tmp_path, positions_2d, metadata, message):
    _write_dataset(tmp_path)
    path = _pickled_npz(tmp_path / "data_2d_h36m_det.npz", positions_2d=positions_2d, metadata=metadata)
    with pytest.raises(ValueError, match=f"{path}: .*{message}.*'positions_2d': {{subject: {{action"):
        load_h36m_arrays(tmp_path, subjects=("S1",), keypoints="det")


def test_corrupt_3dhp_and_amass_files_name_the_file_and_layout(tmp_path):
    np.savez(tmp_path / TEST_FILE, data=np.zeros(3))
    with pytest.raises(ValueError, match=f"{TEST_FILE}: 'data' must hold a pickled dictionary, got ndarray; layout"):
        load_mpi_inf_3dhp_arrays(tmp_path, split="test")
    _pickled_npz(tmp_path / TEST_FILE, data={"TS1": {}})
    _truncate(tmp_path / TEST_FILE)
    with pytest.raises(ValueError, match=f"{TEST_FILE}: cannot read .*truncated.*'data': {{'S1 Seq1'"):
        load_mpi_inf_3dhp_arrays(tmp_path, split="test")

    model_path = tmp_path / "model.npz"
    write_body_model(model_path)
    regressor = h36m_regressor()
    amass = tmp_path / "amass" / "walk.npz"
    amass.parent.mkdir()
    np.savez(amass, poses=np.zeros((5, 156)), trans=np.zeros((5, 3)), mocap_framerate=120.0)
    _truncate(amass)
    with pytest.raises(ValueError, match=f"{amass}: cannot read AMASS sequence: not a .npz.*'poses' \\(N, 3K\\)"):
        load_amass_arrays([amass], model_path, regressor)
    np.savez(amass, poses=np.full((5, 156), "x"), trans=np.zeros((5, 3)), mocap_framerate=120.0)
    with pytest.raises(ValueError, match=f"{amass}: expected numeric arrays .* but poses has dtype <U1; layout"):
        load_amass_arrays([amass], model_path, regressor)
    np.savez(amass, poses=np.zeros((5, 156)), trans=np.zeros((5, 3)), mocap_framerate=np.array([120.0, 60.0]))
    with pytest.raises(ValueError, match="but mocap_framerate has shape \\(2,\\); layout"):
        load_amass_arrays([amass], model_path, regressor)
    np.savez(amass, poses=np.zeros((5, 156)), trans=np.zeros((5, 3)), mocap_framerate=120.0)
    _truncate(model_path)
    with pytest.raises(ValueError, match=f"{model_path}: cannot read body model: not a .npz.*'kintree_table'"):
        load_amass_arrays([amass], model_path, regressor)


# ---------------------------------------------------------------------------------------------------------------
# Released checkpoints
# ---------------------------------------------------------------------------------------------------------------


def _released_state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return ReferenceMPMLift(layers=2, channel=32, d_hid=64, frames=27, n_joints=17, stride_num=[3, 3, 3]).state_dict()


def test_converter_lists_every_missing_and_unexpected_tensor_in_one_error():
    state_dict = _released_state_dict()
    removed = ["fcn_1.1.weight", "Transformer_reduce.model.layers.0.self_attn.linears.1.weight",
               "Transformer_reduce.model.pos_embedding_2",
               "shared_layers_temporal.model.layers.0.feed_forward.w_1.weight"]  # read by infer_config
    broken = {key: value for key, value in state_dict.items() if key not in removed}
    broken["bogus.weight"] = torch.zeros(1)
    broken["Transformer_reduce.model.pos_embedding_7"] = torch.zeros(1, 27, 32)
    with pytest.raises(ValueError) as error:
        convert_released_checkpoint(broken, "lifting", num_frames=27, num_layers=2)
    message = str(error.value)
    assert "2 tensors not part of the released lifting model: ['bogus.weight', " \
           "'Transformer_reduce.model.pos_embedding_7']" in message
    assert "4 tensors missing from the checkpoint" in message
    for key in removed:
        assert f"'{key} (ours: " in message, key
    assert "fcn_1.1.weight (ours: sequence_head.dense.weight)" in message
    assert "linears.1.weight (ours: strided_transformer.layers.0.attention.qkv.weight)" in message
    assert "linears.0.weight" not in message and "linears.2.weight" not in message


def test_refine_and_extra_layer_tensors_are_listed_by_release_name():
    state_dict = _released_state_dict()
    extra = {key.replace("layers.1.", "layers.2."): value for key, value in state_dict.items()
             if key.startswith("shared_layers_temporal.model.layers.1.")}
    with pytest.raises(ValueError, match="--num-layers: expected 3"):
        convert_released_checkpoint({**state_dict, **extra}, "lifting", 27, 2)
    refine = {"post_refine.0.weight": torch.zeros(1024, 68), "post_refine.9.bias": torch.zeros(3)}
    with pytest.raises(ValueError) as error:
        convert_released_checkpoint(state_dict, "lifting", 27, 2, refine)
    message = str(error.value)
    assert "'--refine post_refine.9.bias'" in message
    for name in ("post_refine.0.bias (ours: refine.dense_in.bias)", "post_refine.3.weight (ours: refine.dense_out"):
        assert f"--refine {name}" in message
    assert "post_refine.0.weight: ours refine.dense_in.weight" in message  # wrong shape, named both ways


def test_conversion_script_refuses_an_output_that_is_a_file(tmp_path, capsys):
    script = REPO_ROOT / "scripts" / "convert_mpm_original_checkpoint.py"
    spec = importlib.util.spec_from_file_location("convert_mpm_original_checkpoint", script)
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    torch.save(_released_state_dict(), tmp_path / "released.pth")
    output = tmp_path / "out"
    output.write_text("keep me")
    argv = ["--checkpoint", str(tmp_path / "released.pth"), "--task", "lifting", "--num-frames", "27",
            "--num-layers", "2", "--output", str(output)]
    assert convert.main(argv) == 2
    assert f"--output {output}: expected a folder, got an existing file" in capsys.readouterr().err
    assert output.read_text() == "keep me"
    assert convert.main([*argv[:-1], str(tmp_path / "folder")]) == 0
    assert (tmp_path / "folder" / "checksums.json").is_file()
