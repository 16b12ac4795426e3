"""``mpm-hf lift`` on detector files: format detection, the main person, every track, frame rates, the packaged
default model, and renders that show what was missing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

import mpm_hf.cli as cli
from mpm_hf import MPMConfig, MPMForPoseLifting
from mpm_hf.pipelines import MPMPoseLiftingPipeline
from mpm_hf.readers import read_keypoints

NUM_FRAMES, GAP = 40, 12  # nobody is detected in frame GAP


@pytest.fixture(scope="module")
def window_model_dir(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cli-window-model")
    config = MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1,
                       downsample=2, fps=50, input_normalization="window")
    MPMForPoseLifting(config).save_pretrained(folder)
    return folder


def person(origin: tuple[float, float], seed: int) -> np.ndarray:
    """(frames, 17, 2) COCO-17 pixels of a person walking to the right."""
    rng = np.random.default_rng(seed)
    template = rng.uniform(0, 1, size=(17, 2)) * (100.0, 320.0) + origin
    return (template + np.arange(NUM_FRAMES)[:, None, None] * np.array([3.0, 0.5])).astype(np.float32)


@pytest.fixture()
def alphapose_file(tmp_path):
    """AlphaPose results: a bystander listed first in the frames it appears in, the main person in every frame but
    GAP, one main-person joint at (0, 0) in frame 5."""
    main, bystander = person((200, 100), 0), person((700, 150), 1)
    entries = []
    for frame in range(NUM_FRAMES):
        if frame == GAP:
            continue
        if frame < 25:
            entries.append({"image_id": f"{frame:06d}.jpg", "category_id": 1, "idx": 7, "score": 2.0,
                            "box": [700, 150, 100, 320],
                            "keypoints": np.c_[bystander[frame], np.full(17, 0.7)].ravel().tolist()})
        points = main[frame].copy()
        if frame == 5:
            points[0] = 0.0  # the nose: Human3.6M neck_nose (and the head estimated from it)
        entries.append({"image_id": f"{frame:06d}.jpg", "category_id": 1, "idx": 3, "score": 3.0,
                        "box": [200, 100, 100, 320], "keypoints": np.c_[points, np.full(17, 0.9)].ravel().tolist()})
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(entries))
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_lift_an_alphapose_file_takes_the_main_person_and_keeps_every_frame(capsys, tmp_path, alphapose_file,
                                                                           window_model_dir):
    output = tmp_path / "poses.npz"
    code, out, err = run(capsys, "lift", alphapose_file, "--model", window_model_dir, "--output", output)
    assert code == 0, err
    assert "track 3" in out and "1 frames without the person" in out
    tracks = read_keypoints(alphapose_file)
    keypoints, _ = tracks.person(tracks.track_ids.index(3))
    pipe = MPMPoseLiftingPipeline(model=MPMForPoseLifting.from_pretrained(window_model_dir), device="cpu")
    expected = pipe(np.concatenate([keypoints, tracks.scores[tracks.track_ids.index(3)][..., None]], -1),
                    keypoint_format="coco")
    with np.load(output) as result:
        assert result["poses_3d"].shape == (NUM_FRAMES, 17, 3)  # one pose per input frame, the gap included
        np.testing.assert_allclose(result["poses_3d"], expected["poses_3d"], atol=1e-6)
        assert result["frames_without_person"].tolist() == [frame == GAP for frame in range(NUM_FRAMES)]
        assert result["missing"][5, 9]  # the (0, 0) nose (H36M neck_nose) is missing, not a point at the corner
        assert str(result["input_format"]) == "alphapose" and str(result["keypoint_format"]) == "coco"
        assert result["track_ids"].tolist() == ["3"] and result["frame_ids"].tolist() == list(range(NUM_FRAMES))


def test_lift_every_track_or_a_chosen_one(capsys, tmp_path, alphapose_file, window_model_dir):
    every, chosen = tmp_path / "all.npz", tmp_path / "one.npz"
    assert run(capsys, "lift", alphapose_file, "--model", window_model_dir, "--all-tracks", "--output", every)[0] == 0
    tracks = read_keypoints(alphapose_file)
    bystander = tracks.track_ids.index(7)
    assert run(capsys, "lift", alphapose_file, "--model", window_model_dir, "--person", bystander,
               "--output", chosen)[0] == 0
    with np.load(every) as both, np.load(chosen) as one:
        assert both["poses_3d"].shape == (2, NUM_FRAMES, 17, 3)
        np.testing.assert_allclose(both["poses_3d"][bystander], one["poses_3d"], atol=1e-6)
        assert one["frames_without_person"][25:].all() and not one["frames_without_person"][:GAP].any()
    code, _, err = run(capsys, "lift", alphapose_file, "--model", window_model_dir, "--person", 5, "--output", chosen)
    assert code == 2 and "--person" in err
    code, _, err = run(capsys, "lift", alphapose_file, "--model", window_model_dir, "--format", "h36m",
                       "--output", chosen)
    assert code == 2 and "holds 'coco' keypoints" in err


def test_lift_an_openpose_folder(capsys, tmp_path, window_model_dir):
    folder = tmp_path / "openpose"
    folder.mkdir()
    body25 = np.random.default_rng(3).uniform(100, 500, size=(25, 2))
    for frame in range(20):
        people = [] if frame == 4 else [{"person_id": [-1], "pose_keypoints_2d":
                                         np.c_[body25 + frame, np.full(25, 0.8)].ravel().tolist()}]
        (folder / f"clip_{frame:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    output = tmp_path / "poses.npz"
    code, out, err = run(capsys, "lift", folder, "--model", window_model_dir, "--output", output)
    assert code == 0, err
    with np.load(output) as result:
        assert str(result["keypoint_format"]) == "body25" and result["poses_3d"].shape == (20, 17, 3)
        assert result["frames_without_person"].tolist() == [frame == 4 for frame in range(20)]


def test_fps_reaches_the_pipeline(capsys, tmp_path, alphapose_file, window_model_dir):
    output = tmp_path / "poses.npz"
    assert run(capsys, "lift", alphapose_file, "--model", window_model_dir, "--fps", 30, "--output", output)[0] == 0
    tracks = read_keypoints(alphapose_file)
    main = tracks.to_array()[tracks.main_track()]
    pipe = MPMPoseLiftingPipeline(model=MPMForPoseLifting.from_pretrained(window_model_dir), device="cpu")
    at_30, at_50 = pipe(main, keypoint_format="coco", fps=30), pipe(main, keypoint_format="coco")
    with np.load(output) as result:
        np.testing.assert_allclose(result["poses_3d"], at_30["poses_3d"], atol=1e-6)
        assert float(result["fps"]) == 30 and float(result["model_fps"]) == 50
    assert not np.allclose(at_30["poses_3d"], at_50["poses_3d"])  # resampled to the model's rate and back


def test_the_packaged_default_model_is_used_without_model(capsys, tmp_path, alphapose_file, window_model_dir,
                                                           monkeypatch):
    output = tmp_path / "poses.npz"
    monkeypatch.setattr(cli, "default_model_path", lambda task, modality=None: None)
    code, _, err = run(capsys, "lift", alphapose_file, "--output", output)
    assert code == 2 and "no packaged default pose-lifting model" in err
    monkeypatch.setattr(cli, "default_model_path", lambda task, modality=None: window_model_dir)
    code, _, err = run(capsys, "lift", alphapose_file, "--output", output)
    assert code == 0, err
    with np.load(output) as result:
        assert str(result["model"]) == str(window_model_dir)


def test_render_shows_missing_joints_and_frames_without_the_person(capsys, tmp_path, alphapose_file,
                                                                    window_model_dir):
    result = tmp_path / "poses.npz"
    assert run(capsys, "lift", alphapose_file, "--model", window_model_dir, "--output", result)[0] == 0
    unmarked = tmp_path / "unmarked.npz"  # the same result without its missing flags
    with np.load(result) as data:
        np.savez(unmarked, **{key: data[key] for key in data.files if key != "missing"})

    def frames_of(path) -> list[np.ndarray]:
        animation = path.with_suffix(".gif")
        code, _, err = run(capsys, "render", path, "--output", animation, "--max-frames", 14, "--no-progress")
        assert code == 0, err
        with Image.open(animation) as gif:
            return [np.asarray(frame.convert("RGB")).astype(int) for frame in ImageSequence.Iterator(gif)]

    marked, plain = frames_of(result), frames_of(unmarked)
    changed = [int((np.abs(a - b).sum(-1) > 30).sum()) for a, b in zip(marked, plain, strict=True)]
    assert changed[0] == 0  # every joint detected: drawn as before
    assert changed[5] > 0  # the nose (neck_nose and the head estimated from it) drawn as inferred
    assert changed[GAP] > changed[5]  # nobody: every joint inferred, and the title says so


def test_tracks_are_chosen_from_the_detections_the_threshold_keeps(capsys, tmp_path, window_model_dir):
    # a phantom "person" of low-score joints in every frame, and the real person missed in one frame
    main = person((200, 100), 0)
    entries = []
    for frame in range(NUM_FRAMES):
        entries.append({"image_id": frame, "category_id": 1, "idx": 1, "score": 0.5, "box": [600, 100, 50, 50],
                        "keypoints": np.c_[person((600, 100), 5)[frame], np.full(17, 0.15)].ravel().tolist()})
        if frame != 7:
            entries.append({"image_id": frame, "category_id": 1, "idx": 2, "score": 3.0, "box": [200, 100, 100, 320],
                            "keypoints": np.c_[main[frame], np.full(17, 0.9)].ravel().tolist()})
    path = tmp_path / "phantom.json"
    path.write_text(json.dumps(entries))
    output = tmp_path / "poses.npz"
    code, out, err = run(capsys, "lift", path, "--model", window_model_dir, "--output", output)
    assert code == 0, err
    assert "track 2" in out  # the real person, not the phantom seen in one more frame
    code, _, err = run(capsys, "lift", path, "--model", window_model_dir, "--all-tracks", "--output", output)
    assert code == 0, err  # the phantom's joints are all below the threshold: no track left of it
    with np.load(output) as result:
        assert result["track_ids"].tolist() == ["2"]
