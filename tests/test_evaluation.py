"""Evaluation protocols and sequence inference: tds, missing joints, 3DHP pooling, 16-joint models, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mpm_hf import MPMConfig, MPMForPoseCompletion, MPMForPoseLifting
from mpm_hf.completion import complete_sequence
from mpm_hf.evaluation import evaluate_completion, evaluate_lifting
from mpm_hf.inference import AUTO_SEQUENCE_MIN_FRAMES, lift_sequence, resolve_mode
from mpm_hf.keypoints import MPI_INF_3DHP_16, flip_poses, model_skeleton
from mpm_hf.masking import resolve_joints
from mpm_hf.metrics import auc, mpjpe, pck


def tiny_lifter(num_joints: int = 17, downsample: int = 2, seed: int = 0) -> MPMForPoseLifting:
    torch.manual_seed(seed)
    config = MPMConfig(num_frames=27, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                       num_hidden_layers=2, num_joints=num_joints, downsample=downsample)
    return MPMForPoseLifting(config).eval()


def sequences(num_joints: int = 17, lengths=(90, 61), seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "keypoints_2d": (rng.normal(size=(n, num_joints, 2)) * 0.3).astype(np.float32),
            "poses_3d": (rng.normal(size=(n, num_joints, 3)) * 0.2).astype(np.float32),
            "action": action,
        }
        for n, action in zip(lengths, ("Walking", "Eating"), strict=False)
    ]


def test_evaluation_uses_the_tds_the_model_was_trained_with():
    model = tiny_lifter(downsample=2)
    data = sequences()
    default = evaluate_lifting(model, data, progress=False)
    assert default["mpjpe"] == evaluate_lifting(model, data, downsample=2, progress=False)["mpjpe"]
    assert default["mpjpe"] != evaluate_lifting(model, data, downsample=1, progress=False)["mpjpe"]
    completion = evaluate_completion(model, data, "2d", frame_step=7, progress=False)
    assert completion == evaluate_completion(model, data, "2d", frame_step=7, downsample=2, progress=False)
    assert completion != evaluate_completion(model, data, "2d", frame_step=7, downsample=1, progress=False)


@pytest.mark.parametrize("modality", ["2d", "3d"])
def test_completion_flip_test_is_mirror_symmetric(modality):
    torch.manual_seed(0)
    model = MPMForPoseCompletion(MPMConfig(num_frames=27, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                                           num_hidden_layers=1, downsample=2)).eval()
    data = sequences()
    mirrored = [{**sequence, "keypoints_2d": flip_poses(sequence["keypoints_2d"]),
                 "poses_3d": flip_poses(sequence["poses_3d"])} for sequence in data]
    legs = {"2 legs": (("legs",), 0)}  # a part that is its own mirror image
    kwargs = dict(settings=legs, frame_step=5, progress=False, keep_visible=False)
    flipped = evaluate_completion(model, data, modality, flip_test=True, **kwargs)
    assert flipped == pytest.approx(evaluate_completion(model, mirrored, modality, flip_test=True, **kwargs), abs=1e-4)
    plain = evaluate_completion(model, data, modality, **kwargs)
    assert plain != pytest.approx(evaluate_completion(model, mirrored, modality, **kwargs), abs=1e-4)
    assert flipped != pytest.approx(plain, abs=1e-4)


def test_completion_feeds_missing_detections_masked():
    model = tiny_lifter()
    data = sequences()
    for sequence in data:
        sequence["keypoints_2d"][:, 9] = np.nan  # the MPII-format detections have no neck/nose
        sequence["valid"] = np.isfinite(sequence["keypoints_2d"]).all(axis=-1)
        sequence["valid"][::5, 3] = False  # a low-confidence ankle: finite but not valid
    rows = evaluate_completion(model, data, "2d", settings={"left arm": (("left_arm",), 0)}, frame_step=9,
                               progress=False)
    assert np.isfinite(rows["left arm"])
    # the same as hiding the missing joints by hand: their values never reach the model
    for sequence in data:
        sequence["keypoints_2d"] = np.where(sequence["valid"][..., None], sequence["keypoints_2d"], 123.0)
    again = evaluate_completion(model, data, "2d", settings={"left arm": (("left_arm",), 0)}, frame_step=9,
                                progress=False)
    assert again == rows
    # ``valid`` flags 2D detections: 3D completion only hides non-finite 3D joints
    completer = MPMForPoseCompletion(model.config).eval()
    settings = {"left arm": (("left_arm",), 0)}
    flagged = evaluate_completion(completer, data, "3d", settings=settings, frame_step=9, progress=False)
    for sequence in data:
        del sequence["valid"]
    assert evaluate_completion(completer, data, "3d", settings=settings, frame_step=9, progress=False) == flagged


def test_3dhp_mpjpe_is_pooled_over_frames_with_pck_auc():
    model = tiny_lifter(downsample=1)
    data = sequences(lengths=(120, 30))  # unequal scenes: a mean of scene means differs from the pooled mean
    for sequence, scene in zip(data, ("studio", "outdoor"), strict=True):
        sequence["action"] = scene
    report = evaluate_lifting(model, data, pck_auc=True, progress=False)
    predicted = np.concatenate([lift_sequence(model, s["keypoints_2d"]) for s in data])
    target = np.concatenate([s["poses_3d"] for s in data])
    assert report["mpjpe"] == pytest.approx(1000 * float(mpjpe(predicted, target)), rel=1e-5)
    scene_means = [value["mpjpe"] for value in report["per_action"].values() if isinstance(value, dict)]
    if len(scene_means) == 2:
        assert report["mpjpe"] != pytest.approx(np.mean(scene_means), rel=1e-6)
    assert report["pck"] == pytest.approx(float(pck(predicted, target)), rel=1e-5)
    assert report["auc"] == pytest.approx(float(auc(predicted, target)), rel=1e-5)


def test_body_parts_resolve_through_the_model_joint_order():
    h36m, hp16 = model_skeleton(17), model_skeleton(16)
    assert hp16 is MPI_INF_3DHP_16
    for part, names in [("left_arm", ("left_shoulder", "left_elbow", "left_wrist")),
                        ("right_arm", ("right_shoulder", "right_elbow", "right_wrist")),
                        ("right_leg", ("right_hip", "right_knee", "right_ankle"))]:
        assert [h36m.joint_names[i] for i in resolve_joints(part, 17)] == list(names)
        assert [hp16.joint_names[i] for i in resolve_joints(part, 16)] == list(names)
    assert resolve_joints("right_arm", 16) == [13, 14, 15] and resolve_joints("right_arm", 17) == [14, 15, 16]
    assert resolve_joints("head", 17) == [9, 10] and resolve_joints("head", 16) == [9]  # no neck_nose in 16
    with pytest.raises(ValueError, match="num_joints: expected 17 .* or 16"):
        resolve_joints("left_arm", 15)
    with pytest.raises(ValueError, match="occluded body part"):
        resolve_joints("tail", 17)

    torch.manual_seed(0)
    completer = MPMForPoseCompletion(MPMConfig(num_frames=27, hidden_size=32, intermediate_size=64,
                                               num_attention_heads=4, num_hidden_layers=1, num_joints=16)).eval()
    poses = np.random.default_rng(1).normal(size=(40, 16, 3)).astype(np.float32) * 0.2
    completed = complete_sequence(completer, poses, occluded_joints="right_arm")
    assert completed.shape == (40, 16, 3) and np.isfinite(completed).all()


def test_flip_test_of_a_16_joint_model_is_mirror_equivariant():
    model = tiny_lifter(num_joints=16)
    keypoints = sequences(num_joints=16)[0]["keypoints_2d"]
    lifted = lift_sequence(model, keypoints, flip_test=True)
    mirrored = lift_sequence(model, flip_poses(keypoints, "3dhp16"), flip_test=True)
    np.testing.assert_allclose(flip_poses(mirrored, "3dhp16"), lifted, atol=1e-5)
    assert not np.allclose(lift_sequence(model, keypoints), lifted)


def test_lift_sequence_rejects_bad_frames_and_masks():
    model = tiny_lifter()
    keypoints = sequences()[0]["keypoints_2d"][:40]
    with pytest.raises(ValueError, match=r"frames: expected a 1-D integer array of frame indices in \[0, 40\)"):
        lift_sequence(model, keypoints, frames=np.array([100, -5]))
    with pytest.raises(ValueError, match=r"missing: expected shape \(40, 17\) \(frames, joints\), got \(17, 40\)"):
        lift_sequence(model, keypoints, missing=np.zeros((17, 40), dtype=bool))
    with pytest.raises(ValueError, match="frames: expected a 1-D integer array"):
        lift_sequence(model, keypoints, frames=np.array([0.5]))
    assert lift_sequence(model, keypoints, frames=np.array([], dtype=int)).shape == (0, 17, 3)
    selected = lift_sequence(model, keypoints, frames=np.array([0, 39]))
    np.testing.assert_allclose(selected, lift_sequence(model, keypoints)[[0, 39]], atol=1e-6)


def test_evaluate_script_loads_each_checkpoint_into_its_own_head(tmp_path):
    import importlib.util

    from mpm_hf import MPMForMaskedPoseModeling

    from .conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location("evaluate_script", REPO_ROOT / "examples" / "evaluate.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    config = tiny_lifter().config
    for model_class in (MPMForPoseLifting, MPMForPoseCompletion, MPMForMaskedPoseModeling):
        model_class(config).save_pretrained(tmp_path / model_class.__name__)
    lifting, completion, stage_one = (str(tmp_path / name) for name in
                                      ("MPMForPoseLifting", "MPMForPoseCompletion", "MPMForMaskedPoseModeling"))
    assert script._model_class(lifting, None) is MPMForPoseLifting
    assert script._model_class(lifting, "2d") is MPMForPoseLifting
    assert script._model_class(completion, "2d") is script._model_class(completion, "3d") is MPMForPoseCompletion
    assert script._model_class(stage_one, "3d") is MPMForPoseCompletion
    # lifting needs trained lifting heads: anything else would report random-initialised heads
    for path, name in ((completion, "MPMForPoseCompletion"), (stage_one, "MPMForMaskedPoseModeling")):
        with pytest.raises(ValueError, match=f"--model: .*lifting needs a checkpoint of MPMForPoseLifting.*{name}"):
            script._model_class(path, None)
    with pytest.raises(ValueError, match="--model: .*completion needs a checkpoint of MPMForPoseCompletion"):
        script._model_class(lifting, "3d")


def test_completion_tables_with_the_given_joints_kept_score_only_the_hidden_ones():
    from mpm_hf import MPMConfig, MPMForPoseCompletion
    from mpm_hf.data.synthetic import synthetic_sequences
    from mpm_hf.evaluation import evaluate_completion

    torch.manual_seed(0)
    model = MPMForPoseCompletion(MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                                           num_hidden_layers=1)).eval()
    sequences = synthetic_sequences(num_sequences=2, num_frames=60, seed=0)
    settings = {"left arm": (("left_arm",), 0), "none": ((), 0)}
    raw = evaluate_completion(model, sequences, "3d", settings, frame_step=5, progress=False, keep_visible=False)
    kept = evaluate_completion(model, sequences, "3d", settings, frame_step=5, progress=False, keep_visible=True)
    # the paper's protocol, the default for 3D: the given joints kept, as the release's completion test scores
    assert evaluate_completion(model, sequences, "3d", settings, frame_step=5, progress=False) == kept
    assert kept["none"] == 0.0 and raw["none"] > 0  # nothing hidden: the given poses, exactly
    assert 0 < kept["left arm"] < raw["left arm"]  # 3 of 17 joints scored as predicted, 14 as given
    with pytest.raises(ValueError, match="keep_visible"):
        evaluate_completion(model, sequences, "2d", settings, progress=False, keep_visible=True)


def test_evaluation_builds_no_autograd_graph():
    # a lost no-grad once made the completion tables keep every batch's graph: 24 GB on S9, then the OOM killer
    from mpm_hf import MPMConfig, MPMForPoseCompletion, MPMForPoseLifting
    from mpm_hf.data.synthetic import synthetic_sequences
    from mpm_hf.evaluation import evaluate_completion, evaluate_lifting

    config = MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1)
    sequences = synthetic_sequences(num_sequences=1, num_frames=30, seed=0)
    for model, run in [
        (MPMForPoseCompletion(config).eval(),
         lambda m: evaluate_completion(m, sequences, "2d", {"legs": (("legs",), 0)}, frame_step=5, progress=False)),
        (MPMForPoseLifting(config).eval(), lambda m: evaluate_lifting(m, sequences, frame_step=5, progress=False)),
    ]:
        grad_enabled = []
        model.register_forward_hook(lambda *_, seen=grad_enabled: seen.append(torch.is_grad_enabled()))
        run(model)
        assert grad_enabled and not any(grad_enabled)


def test_auto_mode_is_the_fast_mode_for_long_inputs_only():
    model = tiny_lifter()
    rng = np.random.default_rng(3)
    long = (rng.normal(size=(AUTO_SEQUENCE_MIN_FRAMES, 17, 2)) * 0.3).astype(np.float32)
    short = long[: AUTO_SEQUENCE_MIN_FRAMES - 1]
    assert resolve_mode("auto", AUTO_SEQUENCE_MIN_FRAMES) == "sequence"
    assert resolve_mode("auto", AUTO_SEQUENCE_MIN_FRAMES - 1) == "per_frame"
    np.testing.assert_array_equal(lift_sequence(model, long, mode="auto"), lift_sequence(model, long, mode="sequence"))
    np.testing.assert_array_equal(lift_sequence(model, short, mode="auto"),
                                  lift_sequence(model, short, mode="per_frame"))
    # with chosen frames only the per-frame protocol applies
    frames = np.array([0, 500, AUTO_SEQUENCE_MIN_FRAMES - 1])
    np.testing.assert_array_equal(lift_sequence(model, long, mode="auto", frames=frames),
                                  lift_sequence(model, long, mode="per_frame", frames=frames))
    with pytest.raises(ValueError, match=r"mode: expected one of \('per_frame', 'sequence', 'auto'\), got 'fast'"):
        lift_sequence(model, short, mode="fast")


def test_evaluation_times_the_lifting_apart_from_the_scoring():
    result = evaluate_lifting(tiny_lifter(), sequences(), mode="sequence", progress=False)
    assert 0 < result["lift_time_s"] <= result["wall_time_s"]


def test_evaluate_script_scores_3d_completion_with_the_given_joints_kept(tmp_path, shared_data_dir):
    import importlib.util
    import json

    from .conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location("evaluate_script", REPO_ROOT / "examples" / "evaluate.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    MPMForPoseCompletion(tiny_lifter().config).save_pretrained(tmp_path / "completion")
    common = ["--model", str(tmp_path / "completion"), "--data-dir", str(shared_data_dir / "h36m"), "--subjects",
              "S9", "--max-sequences", "1", "--frame-step", "400", "--occlusions", "left_arm,none", "--no-progress"]
    reports = {}
    for name, extra in (("3d", ["--completion", "3d"]), ("3d-raw", ["--completion", "3d", "--no-keep-visible"]),
                        ("2d", ["--completion", "2d"])):
        script.main([*common, *extra, "--json", str(tmp_path / f"{name}.json")])
        reports[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert reports["3d"]["keep_visible"] and not reports["3d-raw"]["keep_visible"]
    assert not reports["2d"]["keep_visible"]  # 2D input: nothing 3D to keep
    assert reports["3d"]["mpjpe_by_occlusion"]["none"] == 0.0 < reports["3d-raw"]["mpjpe_by_occlusion"]["none"]
