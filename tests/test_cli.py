"""The ``mpm-hf`` command line: lift / complete / render / info round trips and their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from mpm_hf import MPMConfig, MPMForPoseCompletion, MPMForPoseLifting
from mpm_hf.cli import main
from mpm_hf.inference import AUTO_SEQUENCE_MIN_FRAMES
from mpm_hf.keypoints import H36M_17
from mpm_hf.pipelines import MPMPoseCompletionPipeline, MPMPoseLiftingPipeline

IMAGE_SIZE = (1000, 1000)


def tiny_config() -> MPMConfig:
    return MPMConfig(
        num_frames=27, hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=1
    )


@pytest.fixture(scope="module")
def lifting_dir(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cli-lifting")
    MPMForPoseLifting(tiny_config()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def completion_dir(tmp_path_factory):
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("cli-completion")
    MPMForPoseCompletion(tiny_config()).save_pretrained(folder)
    return folder


def pixel_sequence(num_frames: int, num_joints: int = 17, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    template = rng.uniform(350, 650, size=(num_joints, 2))
    drift = np.linspace(0, 60, num_frames)[:, None, None] * np.array([1.0, 0.3])
    return (template + drift + rng.normal(scale=2.0, size=(num_frames, num_joints, 2))).astype(np.float32)


def run(capsys, *argv) -> tuple[int, str, str]:
    """``main(argv)`` -> (exit code, stdout, stderr) of that call alone."""
    capsys.readouterr()
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, command: str, fragment: str) -> None:
    lines = err.strip().splitlines()
    warnings = [line for line in lines if line.startswith(f"mpm-hf {command}: warning: ")]  # one line each
    lines = [line for line in lines if line not in warnings]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"mpm-hf {command}: error:"), lines[0]
    assert fragment in lines[0], lines[0]


def lifted(model_dir, keypoints, **kwargs) -> dict:
    pipe = MPMPoseLiftingPipeline(model=MPMForPoseLifting.from_pretrained(model_dir), device="cpu")
    return pipe(keypoints, **kwargs)


# --- lift ---------------------------------------------------------------------------------------------------


def test_lift_npz_with_a_person_axis(capsys, tmp_path, lifting_dir):
    keypoints = pixel_sequence(40)
    source = tmp_path / "in.npz"
    np.savez(source, other=np.zeros(3), reconstruction=keypoints[None])  # like the in-the-wild file
    output = tmp_path / "out" / "poses.npz"
    code, out, err = run(
        capsys, "lift", source, "--model", lifting_dir, "--output", output,
        "--image-size", "1000x1000", "--key", "reconstruction", "--device", "cpu",
    )  # fmt: skip
    assert code == 0, err
    assert f"wrote {output}" in out
    with np.load(output) as result:
        assert set(result.files) == {"poses_3d", "keypoints_2d", "missing", "joint_names", "frames_without_person",
                                     "track_ids", "frame_ids", "model", "input_format", "keypoint_format",
                                     "image_size", "fps", "model_fps", "mode"}
        assert str(result["model"]) == str(lifting_dir) and str(result["input_format"]) == "array"
        assert str(result["keypoint_format"]) == "h36m" and result["image_size"].tolist() == [1000, 1000]
        assert np.isnan(result["fps"]) and str(result["mode"]) == "per_frame"
        assert result["frame_ids"].tolist() == list(range(40)) and not result["frames_without_person"].any()
        expected = lifted(lifting_dir, keypoints, image_size=IMAGE_SIZE)
        np.testing.assert_allclose(result["poses_3d"], expected["poses_3d"], atol=1e-6)
        np.testing.assert_allclose(result["keypoints_2d"], keypoints)
        assert result["missing"].shape == (40, 17) and not result["missing"].any()
        assert list(result["joint_names"]) == list(H36M_17.joint_names)


def test_lift_uses_the_fast_mode_for_long_inputs_by_default(capsys, tmp_path, lifting_dir):
    keypoints = pixel_sequence(AUTO_SEQUENCE_MIN_FRAMES, seed=9)
    source = tmp_path / "long.npy"
    np.save(source, keypoints)
    output = tmp_path / "poses.npz"
    code, _, err = run(capsys, "lift", source, "--model", lifting_dir, "--output", output, "--image-size", "1000x1000")
    assert code == 0, err
    with np.load(output) as result:
        assert str(result["mode"]) == "sequence"  # the mode that ran, not "auto"
        fast = lifted(lifting_dir, keypoints, image_size=IMAGE_SIZE, mode="sequence")["poses_3d"]
        np.testing.assert_allclose(result["poses_3d"], fast, atol=1e-6)
        accurate = lifted(lifting_dir, keypoints, image_size=IMAGE_SIZE)["poses_3d"]
        assert not np.allclose(result["poses_3d"], accurate, atol=1e-6)


def test_lift_coco_json_with_scores_and_empty_frames(capsys, tmp_path, lifting_dir):
    keypoints = pixel_sequence(12, num_joints=17, seed=1)
    scores = np.full((12, 17, 1), 0.9, dtype=np.float32)
    scores[4, 9] = 0.1  # a low-confidence left wrist
    frames = np.concatenate([keypoints, scores], axis=-1).tolist()
    frames[2] = None  # nobody detected
    frames[3] = []
    frames[5] = np.asarray(frames[5]).ravel().tolist()  # COCO's flat [x1, y1, s1, ...]
    source = tmp_path / "detections.json"
    source.write_text(json.dumps({"keypoints": frames}))
    output = tmp_path / "poses.npz"
    code, _, err = run(
        capsys, "lift", source, "--model", lifting_dir, "--output", output, "--format", "coco",
        "--image-size", "1000x1000", "--mode", "sequence", "--flip-test",
    )  # fmt: skip
    assert code == 0, err
    with np.load(output) as result:
        missing = result["missing"]
        assert result["poses_3d"].shape == (12, 17, 3) and np.isfinite(result["poses_3d"]).all()
    assert missing[2].all() and missing[3].all()
    assert missing[4, H36M_17.index("left_wrist")]
    assert missing.sum() == 2 * 17 + 1
    # --mode and --flip-test reach the pipeline: the same call through the Python API
    detections = np.concatenate([keypoints, scores], axis=-1)
    detections[2:4] = np.nan
    options = dict(keypoint_format="coco", image_size=(1000, 1000), mode="sequence")
    with np.load(output) as result:
        np.testing.assert_allclose(result["poses_3d"], lifted(lifting_dir, detections, flip_test=True,
                                                              **options)["poses_3d"], atol=1e-6)
        assert not np.allclose(result["poses_3d"], lifted(lifting_dir, detections, **options)["poses_3d"])


def test_lift_npy_normalised_with_options(capsys, tmp_path, lifting_dir):
    keypoints = pixel_sequence(30, seed=2) / 500 - 1
    source = tmp_path / "normalised.npy"
    np.save(source, keypoints)
    output = tmp_path / "poses.npz"
    code, _, err = run(
        capsys, "lift", source, "--model", lifting_dir, "--output", output,
        "--normalized", "--batch-size", "8", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    with np.load(output) as result:
        expected = lifted(lifting_dir, keypoints, normalized=True)
        np.testing.assert_allclose(result["poses_3d"], expected["poses_3d"], atol=1e-6)


def test_lift_picks_a_person(capsys, tmp_path, lifting_dir):
    source = tmp_path / "two.npy"
    np.save(source, np.stack([pixel_sequence(10), pixel_sequence(10, seed=5)]))
    output = tmp_path / "poses.npz"
    code, _, err = run(
        capsys, "lift", source, "--model", lifting_dir, "--output", output, "--image-size", "1000x1000",
        "--person", "1",
    )  # fmt: skip
    assert code == 0, err
    with np.load(output) as result:
        np.testing.assert_allclose(result["keypoints_2d"], pixel_sequence(10, seed=5))


@pytest.fixture
def inputs(tmp_path):
    """Input files for the error cases, by name."""
    files = {
        "pixels": tmp_path / "pixels.npy",
        "two_persons": tmp_path / "two.npy",
        "sixteen": tmp_path / "sixteen.npy",
        "pickled": tmp_path / "pickled.npz",
        "bad_json": tmp_path / "bad.json",
        "text": tmp_path / "keypoints.txt",
    }
    np.save(files["pixels"], pixel_sequence(10))
    np.save(files["two_persons"], np.stack([pixel_sequence(10)] * 2))
    np.save(files["sixteen"], pixel_sequence(10, num_joints=16))
    np.savez(files["pickled"], positions_2d=np.array({"S9": 1}, dtype=object))
    files["bad_json"].write_text("[[1, 2,")
    files["text"].write_text("1 2 3")
    return files


@pytest.mark.parametrize(
    ("input_name", "extra", "output_name", "fragment"),
    [
        ("missing", [], "poses.npz", "INPUT: no such file"),
        ("pixels", [], "poses.npz", "--image-size: the keypoints look like pixels"),
        ("two_persons", ["--image-size", "1000x1000"], "poses.npz", "holds 2 persons"),
        (
            "two_persons",
            ["--image-size", "1000x1000", "--person", "2"],
            "poses.npz",
            "--person: expected an index",
        ),
        (
            "sixteen",
            ["--image-size", "1000x1000"],
            "poses.npz",
            "inputs: expected shape (frames, 17, 2 or 3)",
        ),
        ("pickled", [], "poses.npz", "is a pickled object"),
        ("bad_json", [], "poses.npz", "not valid JSON"),
        ("text", [], "poses.npz", "expected a .npz, .npy or .json file"),
        ("pixels", ["--image-size", "1000x1000"], "poses.csv", "--output: expected a .npz"),
        (
            "pixels",
            ["--image-size", "1000x1000", "--batch-size", "0"],
            "poses.npz",
            "--batch-size: expected a",
        ),
    ],
)
def test_lift_input_errors_exit_2(
    capsys, tmp_path, lifting_dir, inputs, input_name, extra, output_name, fragment
):
    source = inputs.get(input_name, tmp_path / "missing.npz")
    output = tmp_path / output_name
    code, _, err = run(capsys, "lift", source, "--model", lifting_dir, "--output", output, *extra)
    assert code == 2
    assert_one_line_error(err, "lift", fragment)
    assert not output.exists()


def test_lift_unknown_npz_key(capsys, tmp_path, lifting_dir):
    source = tmp_path / "in.npz"
    np.savez(source, reconstruction=pixel_sequence(5)[None])
    code, _, err = run(
        capsys, "lift", source, "--model", lifting_dir, "--output", tmp_path / "o.npz", "--key", "x"
    )
    assert code == 2
    assert_one_line_error(err, "lift", "--key: ")
    assert "arrays: reconstruction" in err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--format", "openpose"], "invalid choice: 'openpose'"),
        (["--image-size", "1920"], "expected WIDTHxHEIGHT"),
        (["--image-size", "1000x1000", "--normalized"], "not allowed with argument"),
    ],
)
def test_lift_usage_errors_exit_2(capsys, tmp_path, lifting_dir, inputs, argv, fragment):
    code, _, err = run(
        capsys, "lift", inputs["pixels"], "--model", lifting_dir, "--output", tmp_path / "o.npz", *argv
    )
    assert code == 2
    assert fragment in err


def test_model_errors(capsys, tmp_path, inputs):
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    code, _, err = run(
        capsys, "lift", inputs["pixels"], "--model", not_a_model, "--output", tmp_path / "o.npz"
    )
    assert code == 2
    assert_one_line_error(err, "lift", "is not a model folder (no config.json)")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "mpm", "num_frames": 27}))  # no weights
    code, _, err = run(
        capsys,
        "lift",
        inputs["pixels"],
        "--model",
        broken,
        "--output",
        tmp_path / "o.npz",
        "--image-size",
        "9x9",
    )
    assert code == 1
    assert_one_line_error(err, "lift", "could not load the model")


def test_checkpoints_without_trained_heads_and_bad_options_are_usage_errors(
    capsys, tmp_path, inputs, lifting_dir, completion_dir
):
    common = ["--output", tmp_path / "o.npz", "--image-size", "1000x1000"]
    code, _, err = run(capsys, "lift", inputs["pixels"], "--model", completion_dir, *common)
    assert code == 2  # a completion checkpoint's lifting heads would be random
    assert_one_line_error(err, "lift", "lifting needs a checkpoint of MPMForPoseLifting, got one of "
                                       "MPMForPoseCompletion")
    poses = tmp_path / "poses.npy"
    np.save(poses, np.random.default_rng(0).normal(size=(30, 17, 3)).astype(np.float32) * 0.2)
    code, _, err = run(capsys, "complete", poses, "--model", lifting_dir, "--output", tmp_path / "c.npz")
    assert code == 2
    assert_one_line_error(err, "complete", "completion needs a checkpoint of MPMForPoseCompletion")
    code, _, err = run(capsys, "lift", inputs["pixels"], "--model", lifting_dir, "--device", "nonsense", *common)
    assert code == 2
    assert_one_line_error(err, "lift", "--device: expected cpu, cuda")
    code, _, err = run(capsys, "lift", inputs["pixels"], "--model", "tests/no-such-model", *common)
    assert code == 2  # a mistyped local path is not sent to the Hub as a repo id
    assert_one_line_error(err, "lift", "--model: no such folder: tests/no-such-model")
    misnamed = tmp_path / "keypoints.npz"
    misnamed.write_bytes(inputs["pixels"].read_bytes())  # a .npy file under a .npz name
    code, _, err = run(capsys, "lift", misnamed, "--model", lifting_dir, *common)
    assert code == 2
    assert_one_line_error(err, "lift", "holds a single .npy array, not a .npz archive")
    code, _, err = run(capsys, "lift", inputs["pixels"], "--model", lifting_dir, "--key", "keypoints", *common)
    assert code == 2  # --key would be ignored for a .npy
    assert_one_line_error(err, "lift", "--key: ")


# --- complete -----------------------------------------------------------------------------------------------


def test_complete_round_trip_and_errors(capsys, tmp_path, completion_dir):
    rng = np.random.default_rng(0)
    poses = rng.normal(scale=0.3, size=(30, 17, 3)).astype(np.float32)
    poses -= poses[:, :1]
    poses[:, 16] = np.nan
    source = tmp_path / "partial.npz"
    np.savez(source, poses_3d=poses)
    output = tmp_path / "complete.npz"
    code, out, err = run(
        capsys,
        "complete",
        source,
        "--model",
        completion_dir,
        "--output",
        output,
        "--occlude",
        "left_arm,right_leg",
    )
    assert code == 0, err
    assert "hidden joints completed" in out
    with np.load(output) as result:
        assert set(result.files) == {"poses_3d", "missing", "joint_names", "modality", "fps"}
        assert str(result["modality"]) == "3d"
        assert result["poses_3d"].shape == (30, 17, 3) and np.isfinite(result["poses_3d"]).all()
        assert result["missing"][:, [1, 2, 3, 11, 12, 13, 16]].all() and result["missing"].sum() == 30 * 7
        pipe = MPMPoseCompletionPipeline(
            model=MPMForPoseCompletion.from_pretrained(completion_dir), device="cpu"
        )
        expected = pipe(poses, occluded_joints=["left_arm", "right_leg"])["poses_3d"]
        np.testing.assert_allclose(result["poses_3d"], expected, atol=1e-6)
    flipped = tmp_path / "flipped.npz"
    code, _, err = run(capsys, "complete", source, "--model", completion_dir, "--output", flipped, "--occlude",
                       "left_arm,right_leg", "--flip-test")
    assert code == 0, err
    with np.load(flipped) as result:
        expected = pipe(poses, occluded_joints=["left_arm", "right_leg"], flip_test=True)["poses_3d"]
        np.testing.assert_allclose(result["poses_3d"], expected, atol=1e-6)

    code, _, err = run(
        capsys, "complete", source, "--model", completion_dir, "--output", output, "--occlude", "tail"
    )
    assert code == 2
    assert_one_line_error(err, "complete", "occluded body part: expected one of")


def test_complete_partial_2d_from_a_detector_file(capsys, tmp_path, completion_dir):
    keypoints = pixel_sequence(30)
    scores = np.full((30, 17, 1), 0.9, np.float32)
    scores[4:6, 13] = 0.05  # an undetected left wrist
    frames = [{"keypoints": np.concatenate([keypoints[t], scores[t]], axis=-1).tolist()} for t in range(30)]
    source = tmp_path / "frames.json"
    source.write_text(json.dumps({"keypoints": [frame["keypoints"] for frame in frames]}))
    output = tmp_path / "complete-2d.npz"
    code, out, err = run(capsys, "complete", source, "--modality", "2d", "--image-size", "1000x1000", "--occlude",
                         "legs", "--model", completion_dir, "--output", output, "--flip-test", "--fps", "30")
    assert code == 0, err
    assert "hidden joints completed from partial 2D" in out
    pipe = MPMPoseCompletionPipeline(model=MPMForPoseCompletion.from_pretrained(completion_dir), device="cpu")
    expected = pipe(np.concatenate([keypoints, scores], axis=-1), modality="2d", image_size=(1000, 1000),
                    occluded_joints="legs", flip_test=True, fps=30)
    with np.load(output) as result:
        assert str(result["modality"]) == "2d" and str(result["keypoint_format"]) == "h36m" and result["fps"] == 30
        np.testing.assert_allclose(result["poses_3d"], expected["poses_3d"], atol=1e-6)
        np.testing.assert_array_equal(result["missing"], expected["missing"])
        assert result["missing"][4:6, 13].all() and result["missing"][:, 1:7].all() and result["missing"].sum() == 182
        np.testing.assert_allclose(result["keypoints_2d"], expected["keypoints_2d"], equal_nan=True)
    # the 2D options belong to --modality 2d; 3D poses come in the Human3.6M orders
    code, _, err = run(capsys, "complete", source, "--image-size", "1000x1000", "--model", completion_dir,
                       "--output", output)
    assert code == 2
    assert_one_line_error(err, "complete", "--image-size: an option of 2D input; pass --modality 2d")
    code, _, err = run(capsys, "complete", source, "--format", "coco", "--model", completion_dir, "--output", output)
    assert code == 2
    assert_one_line_error(err, "complete", "--format: 3D poses come as h36m or h36m32, got coco")


def test_complete_without_a_model_takes_the_packaged_default_of_its_modality(capsys, tmp_path, monkeypatch,
                                                                              completion_dir):
    from mpm_hf import cli

    asked = []
    monkeypatch.setattr(cli, "default_model_path", lambda task, modality=None: asked.append((task, modality))
                        or completion_dir)
    source_2d, source_3d = tmp_path / "partial_2d.npy", tmp_path / "partial_3d.npy"
    np.save(source_2d, pixel_sequence(12))
    np.save(source_3d, np.random.default_rng(0).normal(scale=0.3, size=(12, 17, 3)).astype(np.float32))
    for source, options in ((source_2d, ("--modality", "2d", "--image-size", "1000x1000")),
                            (source_3d, ("--modality", "3d"))):
        code, _, err = run(capsys, "complete", source, *options, "--output", tmp_path / "out.npz")
        assert code == 0, err
    assert asked == [("pose-completion", "2d"), ("pose-completion", "3d")]


# --- render and info ----------------------------------------------------------------------------------------


def test_render_a_lift_result_as_gif(capsys, tmp_path, lifting_dir):
    source = tmp_path / "in.npy"
    np.save(source, pixel_sequence(8))
    result = tmp_path / "poses.npz"
    assert (
        run(capsys, "lift", source, "--model", lifting_dir, "--output", result, "--image-size", "1000x1000")[
            0
        ]
        == 0
    )
    animation = tmp_path / "poses.gif"
    code, out, err = run(capsys, "render", result, "--output", animation, "--fps", "10", "--max-frames", "4")
    assert code == 0, err
    assert "4 frames" in out
    with Image.open(animation) as gif:
        frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
    assert len(frames) == 4  # --max-frames
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:], strict=False))  # the pose moves
    assert all(frame.std() > 0 for frame in frames)  # not blank


def test_render_a_completion_result_and_errors(capsys, tmp_path):
    result = tmp_path / "complete.npz"
    poses = np.random.default_rng(0).normal(scale=0.3, size=(3, 17, 3))
    np.savez(result, poses_3d=poses, missing=np.zeros((3, 17), bool))
    code, _, err = run(capsys, "render", result, "--output", tmp_path / "c.gif")
    assert code == 0, err
    assert (tmp_path / "c.gif").stat().st_size > 0

    code, _, err = run(capsys, "render", result, "--output", tmp_path / "c.png")
    assert code == 2
    assert_one_line_error(err, "render", "must end in .gif or .mp4")
    code, _, err = run(capsys, "render", tmp_path / "none.npz", "--output", tmp_path / "c.gif")
    assert code == 2
    assert_one_line_error(err, "render", "no such file")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    code, _, err = run(capsys, "render", tmp_path / "other.npz", "--output", tmp_path / "c.gif")
    assert code == 2
    assert_one_line_error(err, "render", "no 'poses_3d' array")


def test_info(capsys, tmp_path, lifting_dir):
    code, out, _ = run(capsys, "info")
    assert code == 0
    assert "torch " in out and "transformers " in out and "torch threads:" in out and "device:" in out
    code, out, _ = run(capsys, "info", "--model", lifting_dir)
    assert code == 0
    assert "architecture: MPMForPoseLifting" in out and "num_frames: 27" in out
    num_parameters = sum(p.numel() for p in MPMForPoseLifting.from_pretrained(lifting_dir).parameters())
    assert f"parameters: {num_parameters:,}" in out
    code, _, err = run(capsys, "info", "--model", tmp_path / "nowhere")
    assert code == 2
    assert_one_line_error(err, "info", "no such folder")


def test_help_and_missing_command(capsys):
    assert main(["--help"]) == 0
    assert "lift" in capsys.readouterr().out
    assert main([]) == 2
    assert "required" in capsys.readouterr().err


def test_module_entry_point_exit_code(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mpm_hf.cli",
            "lift",
            str(tmp_path / "none.npz"),
            "--model",
            "x",
            "--output",
            "o.npz",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"mpm-hf lift: error: INPUT: no such file or folder: {tmp_path / 'none.npz'}"


def test_lift_reads_a_plain_json_file_once(capsys, tmp_path, lifting_dir, monkeypatch):
    """A plain list of frames is first offered to the detector readers (no layout matches), then read as the simple
    layout from the JSON they parsed: the file is parsed once, and the result is the same as the array's."""
    import mpm_hf.cli as cli_module

    keypoints = pixel_sequence(12, num_joints=17, seed=4)
    source = tmp_path / "frames.json"
    source.write_text(json.dumps(keypoints.tolist()))
    text, parses = source.read_text(), []
    real_loads = json.loads

    def load(file, *args, **kwargs):  # the readers' json.load: counted when it reads INPUT
        parses.extend([file.name] if Path(file.name) == source else [])
        return real_loads(file.read(), *args, **kwargs)  # not json.load: it calls the patched json.loads

    def loads(content, *args, **kwargs):  # the simple layout's json.loads
        parses.extend([str(source)] if content == text else [])
        return real_loads(content, *args, **kwargs)

    monkeypatch.setattr(json, "load", load)
    monkeypatch.setattr(json, "loads", loads)
    output = tmp_path / "poses.npz"
    code, _, err = run(capsys, "lift", source, "--model", lifting_dir, "--output", output, "--image-size", "1000x1000")
    assert code == 0, err
    assert cli_module.json is json and parses == [str(source)]
    with np.load(output) as result:
        expected = lifted(lifting_dir, keypoints, image_size=IMAGE_SIZE)["poses_3d"]
        np.testing.assert_allclose(result["poses_3d"], expected, atol=1e-6)
