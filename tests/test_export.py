"""ONNX export (``mpm_hf.export``, ``mpm-hf export``): onnxruntime against torch at other batch sizes than the
export's, with and without missing joints, both input normalisations, the metadata, the command and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mpm_hf import MPMConfig, MPMForPoseCompletion, MPMForPoseLifting, MPMModel
from mpm_hf.cli import main
from mpm_hf.export import EXPORT_BATCH_SIZE, VERIFY_TOLERANCE, _LiftingGraph, export_onnx
from mpm_hf.keypoints import H36M_17
from tests.conftest import REPO_ROOT

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

SHIPPED = REPO_ROOT / "pretrained" / "mpm-h36m-27f"
TOLERANCE = 1e-4  # metres


def tiny_config(**overrides) -> MPMConfig:
    options = dict(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1,
                   spatial_hidden_size=32, downsample=2)
    return MPMConfig(**{**options, **overrides})


def session(path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def windows(config: MPMConfig, batch_size: int, missing_ratio: float, coords: int = 2, seed: int = 0):
    """Windows of a moving person (normalised screen coordinates / metres); missing joints are NaN."""
    rng = np.random.default_rng(seed)
    person = rng.normal(scale=0.25, size=(batch_size, 1, config.num_joints, coords))
    motion = np.linspace(0, 0.2, config.num_frames)[None, :, None, None] * rng.normal(size=(batch_size, 1, 1, coords))
    poses = (person + motion + rng.normal(scale=0.01, size=(batch_size, config.num_frames, config.num_joints,
                                                               coords))).astype(np.float32)
    mask = rng.random((batch_size, config.num_frames, config.num_joints)) < missing_ratio
    poses[mask] = np.nan
    return poses, mask


def torch_outputs(model, poses: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    with torch.inference_mode():
        output = model(torch.from_numpy(poses), spatial_mask=torch.from_numpy(mask))
    if isinstance(model, MPMForPoseLifting):
        return [output.poses_3d.numpy(), output.sequence_poses_3d.numpy()]
    return [output.poses_3d.numpy()]


def assert_matches_torch(model, path, batch_sizes=(1, 5), coords: int = 2) -> None:
    runner = session(path)
    for batch_size in batch_sizes:
        assert batch_size != EXPORT_BATCH_SIZE
        for missing_ratio in (0.0, 0.15):
            poses, mask = windows(model.config, batch_size, missing_ratio, coords, seed=batch_size)
            actual = runner.run(None, {"poses": poses, "spatial_mask": mask})
            expected = torch_outputs(model, poses, mask)
            assert len(actual) == len(expected)
            for got, want in zip(actual, expected, strict=True):
                assert got.shape == want.shape and got.dtype == np.float32
                assert np.isfinite(got).all()
                assert np.abs(got - want).max() <= TOLERANCE, (batch_size, missing_ratio)


MODELS = {
    "lifting-screen": (MPMForPoseLifting, "screen"),
    "lifting-window": (MPMForPoseLifting, "window"),
    "completion-screen": (MPMForPoseCompletion, "screen"),
    "completion-window": (MPMForPoseCompletion, "window"),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def exported(request, tmp_path_factory):
    """(model in eval mode, its ONNX file) for each head and input normalisation."""
    model_class, normalization = MODELS[request.param]
    torch.manual_seed(0)
    model = model_class(tiny_config(input_normalization=normalization)).eval()
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx")
    return model, path


def test_onnxruntime_matches_torch_at_other_batch_sizes(exported):
    model, path = exported
    assert_matches_torch(model, path, batch_sizes=(1, 5))


def test_graph_has_a_dynamic_batch_and_the_documented_inputs_and_outputs(exported):
    model, path = exported
    runner = session(path)
    frames, joints = model.config.num_frames, model.config.num_joints
    inputs = {value.name: (value.shape, value.type) for value in runner.get_inputs()}
    assert inputs == {
        "poses": (["batch", frames, joints, 2], "tensor(float)"),
        "spatial_mask": (["batch", frames, joints], "tensor(bool)"),
    }
    outputs = {value.name: value.shape for value in runner.get_outputs()}
    if isinstance(model, MPMForPoseLifting):
        assert outputs == {"poses_3d": ["batch", 1, joints, 3], "sequence_poses_3d": ["batch", frames, joints, 3]}
    else:
        assert outputs == {"poses_3d": ["batch", frames, joints, 3]}


def test_metadata_tells_how_to_feed_the_graph(exported):
    model, path = exported
    meta = session(path).get_modelmeta().custom_metadata_map
    config = model.config
    assert meta["task"] == ("lifting" if isinstance(model, MPMForPoseLifting) else "completion")
    assert meta["architecture"] == type(model).__name__
    assert (int(meta["num_frames"]), int(meta["num_joints"]), int(meta["downsample"])) == (9, 17, 2)
    assert meta["input_normalization"] == config.input_normalization
    assert json.loads(meta["joint_names"]) == list(H36M_17.joint_names)
    restored = MPMConfig.from_dict(json.loads(meta["mpm_config"]))
    assert restored.to_dict() == config.to_dict()
    expected_units = "normalised screen coordinates" if config.input_normalization == "screen" else "any"
    assert meta["input_units"].startswith(expected_units)


def test_window_normalisation_is_part_of_the_graph(exported):
    """A "window" model gives the same 3D for pixels as for normalised coordinates; a "screen" model does not."""
    model, path = exported
    runner = session(path)
    poses, mask = windows(model.config, 4, missing_ratio=0.1)
    pixels = (poses * 500 + np.array([960.0, 540.0])).astype(np.float32)
    screen = runner.run(None, {"poses": poses, "spatial_mask": mask})[0]
    in_pixels = runner.run(None, {"poses": pixels, "spatial_mask": mask})[0]
    if model.config.input_normalization == "window":
        np.testing.assert_allclose(in_pixels, screen, atol=TOLERANCE)
    else:
        assert np.abs(in_pixels - screen).max() > 10 * TOLERANCE


def test_completion_of_partial_3d_from_a_model_in_training_mode(tmp_path):
    torch.manual_seed(3)
    model = MPMForPoseCompletion(tiny_config()).train()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    path = export_onnx(model, tmp_path / "completion3d.onnx", opset=18, input_coords=3)
    # the export works on an eval-mode, fused copy: the caller's model is left as it was
    assert model.training and not getattr(model, "is_fused", False)
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())
    assert onnx.load(str(path)).opset_import[0].version == 18
    assert session(path).get_modelmeta().custom_metadata_map["input_coords"] == "3"
    assert_matches_torch(model.eval(), path, batch_sizes=(4,), coords=3)


def test_a_graph_that_differs_from_the_model_is_caught_and_removed(tmp_path, monkeypatch):
    forward = _LiftingGraph.forward

    def shifted(self, poses, spatial_mask):
        return tuple(output + 10 * VERIFY_TOLERANCE for output in forward(self, poses, spatial_mask))

    monkeypatch.setattr(_LiftingGraph, "forward", shifted)
    path = tmp_path / "wrong.onnx"
    with pytest.raises(RuntimeError, match=r"onnxruntime's poses_3d .* differs from torch's .* the file was removed"):
        export_onnx(MPMForPoseLifting(tiny_config()), path)
    assert not path.exists()


def test_bad_arguments_are_named(tmp_path):
    lifting = MPMForPoseLifting(tiny_config())
    with pytest.raises(ValueError, match="model: expected an MPMForPoseLifting or an MPMForPoseCompletion .* got "
                                         "MPMModel"):
        export_onnx(MPMModel(tiny_config()), tmp_path / "base.onnx")
    with pytest.raises(ValueError, match=r"input_coords: expected 2 \(lifting models take 2D keypoints\), got 3"):
        export_onnx(lifting, tmp_path / "lifting.onnx", input_coords=3)
    with pytest.raises(ValueError, match="opset: expected an integer >= 18 .* got 17"):
        export_onnx(lifting, tmp_path / "lifting.onnx", opset=17)
    with pytest.raises(ValueError, match="output_path: expected a .onnx file, got .*model.pt"):
        export_onnx(lifting, tmp_path / "model.pt")
    with pytest.warns(UserWarning, match="config.use_refine: the refine module .* is not exported"), \
            pytest.raises(ValueError, match="output_path: expected a .onnx file"):
        export_onnx(MPMForPoseLifting(tiny_config(use_refine=True, refine_hidden_size=8)), tmp_path / "refine.txt")
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(ValueError, match="output_path: expected a file, got the existing folder"):
        export_onnx(lifting, tmp_path / "folder.onnx")
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="output_path: cannot create the folder .*a_file"):
        export_onnx(lifting, tmp_path / "a_file" / "model.onnx")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a_file", "folder.onnx"]


# --- the command line -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifting_dir(tmp_path_factory):
    torch.manual_seed(5)
    folder = tmp_path_factory.mktemp("export-lifting")
    MPMForPoseLifting(tiny_config(input_normalization="window")).save_pretrained(folder)
    return folder


def run(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_export_writes_a_loadable_file_with_the_metadata(capsys, tmp_path, lifting_dir):
    output = tmp_path / "out" / "mpm.onnx"
    code, out, err = run(capsys, "export", "--model", lifting_dir, "--output", output, "--opset", "19")
    assert code == 0, err
    assert out.startswith(f"wrote {output}: MPMForPoseLifting, windows of 9 frames x 17 joints")
    assert onnx.load(str(output)).opset_import[0].version == 19
    meta = session(output).get_modelmeta().custom_metadata_map
    assert (meta["architecture"], meta["input_normalization"], meta["downsample"]) == (
        "MPMForPoseLifting", "window", "2")
    assert_matches_torch(MPMForPoseLifting.from_pretrained(lifting_dir).eval(), output, batch_sizes=(3,))


def assert_one_line_error(code: int, err: str, fragment: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mpm-hf export: error:"), err
    assert fragment in lines[0], lines[0]


def test_cli_export_of_the_wrong_head_is_a_usage_error(capsys, tmp_path, lifting_dir):
    output = tmp_path / "completion.onnx"
    code, _, err = run(capsys, "export", "--model", lifting_dir, "--output", output, "--task", "completion")
    assert_one_line_error(code, err, "completion needs a checkpoint of MPMForPoseCompletion or "
                                     "MPMForMaskedPoseModeling, got one of MPMForPoseLifting")
    assert not output.exists()


def test_cli_export_bad_paths_and_options_are_usage_errors(capsys, tmp_path, lifting_dir):
    code, _, err = run(capsys, "export", "--model", lifting_dir, "--output", tmp_path / "model.pt")
    assert_one_line_error(code, err, "--output: expected a .onnx file, got 'model.pt'")
    (tmp_path / "a_file").write_text("")
    code, _, err = run(capsys, "export", "--model", lifting_dir, "--output", tmp_path / "a_file" / "m.onnx")
    assert_one_line_error(code, err, "--output: cannot create the folder")
    code, _, err = run(capsys, "export", "--model", lifting_dir, "--output", tmp_path / "m.onnx", "--opset", "12")
    assert_one_line_error(code, err, "--opset: expected an integer >= 18")
    code, _, err = run(capsys, "export", "--model", tmp_path / "missing", "--output", tmp_path / "m.onnx")
    assert_one_line_error(code, err, "--model: no such folder")
    assert not (tmp_path / "m.onnx").exists()


# --- the shipped model ----------------------------------------------------------------------------------------


@pytest.mark.slow  # exporting the 27-frame model: ~10 s on 2 loaded cores
def test_shipped_model_matches_torch_at_batch_3(tmp_path):
    if not (SHIPPED / "model.safetensors").is_file():
        pytest.skip(f"shipped model not found at {SHIPPED}")
    model = MPMForPoseLifting.from_pretrained(SHIPPED).eval()
    path = export_onnx(model, tmp_path / "mpm-h36m-27f.onnx")
    assert session(path).get_modelmeta().custom_metadata_map["num_frames"] == "27"
    assert_matches_torch(model, path, batch_sizes=(3,))
