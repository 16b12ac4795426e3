"""The Hub path end to end: MPM models, cards and datasets through the real clients and the local Hub server.

``huggingface_hub``, ``transformers`` and ``datasets`` make real HTTP calls to ``tests/hub_server.py`` on 127.0.0.1
(fixtures ``hub_env`` / ``hub_server``); nothing on the client side is mocked. What the stack verifies when it
downloads (sizes, not hashes) is pinned down by the tests at the end.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import HfApi, ModelCard, try_to_load_from_cache
from safetensors import SafetensorError
from transformers import BertConfig, pipeline

from mpm_hf import AutoModelForPoseLifting, MPMConfig, MPMForMaskedPoseModeling, MPMForPoseLifting
from mpm_hf.hub import LIBRARY_NAME, TAGS, generate_model_card, push_model_to_hub

from .conftest import REPO_ROOT

# huggingface_hub's LFS upload passes a file object as `data=` to httpx2, which deprecates it.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

REPORT = {  # the shape of `examples/evaluate.py --json` output (values in mm)
    "task": "lifting",
    "model": "converted/mpm-tiny",
    "dataset": "h36m",
    "subjects": "S9,S11",
    "keypoints": "gt",
    "mpjpe": 41.234,
    "p_mpjpe": 33.5,
    "per_action": {},
    "num_frames": 1000,
    "mode": "per_frame",
    "flip_test": True,
}


def tiny_config(**overrides) -> MPMConfig:
    values = dict(num_frames=27, hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=1)
    values.update(overrides)
    return MPMConfig(**values)


def keypoints(batch: int = 2, seed: int = 0) -> torch.Tensor:
    """Normalised screen coordinates, ``(batch, 27, 17, 2)``."""
    return torch.randn(batch, 27, 17, 2, generator=torch.Generator().manual_seed(seed)) * 0.3


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values in every floating tensor (BatchNorm statistics included), so that no wrong tensor can hide."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.dtype.is_floating_point:
                values = torch.randn(tensor.shape, generator=generator) * 0.2
                tensor.copy_(values.abs() + 0.5 if name.endswith("running_var") else values)
    return model.eval()


def lifting_model(seed: int = 0) -> MPMForPoseLifting:
    return randomised(MPMForPoseLifting(tiny_config()), seed)


def load_script(name: str):
    """A module of ``scripts/`` (they are not a package), to call its ``main(argv)`` in this process."""
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_python(script: str, env: dict[str, str], cwd: Path, *args: str, hide_mpm_hf: bool = False) -> str:
    """Run ``script`` in a fresh interpreter; returns its stdout (fails the test on a non-zero exit)."""
    command = [sys.executable, "-c", script, *args]
    if hide_mpm_hf:
        # `-S` skips site.py, so the editable install's .pth never puts src/ on the path; the site-packages
        # folders are added back by hand (their .pth files are not processed).
        site_packages = [p for p in sys.path if p.endswith("site-packages")]
        prelude = f"import sys\nsys.path += {site_packages!r}\n"
        command = [sys.executable, "-S", "-c", prelude + script, *args]
        env = {key: value for key, value in env.items() if key != "PYTHONPATH"}
        env["PYTHONNOUSERSITE"] = "1"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def save_expectation(model: torch.nn.Module, path: Path) -> Path:
    """Inputs, outputs and weights of ``model`` for a subprocess to compare against (see ``_CHECK``)."""
    x = keypoints()
    with torch.no_grad():
        torch.save({"inputs": x, "outputs": model(poses=x).poses_3d, "state": model.state_dict()}, path)
    return path


_CHECK = """
def check(model, path):
    expected = torch.load(path)
    state = model.state_dict()
    assert state.keys() == expected["state"].keys()
    assert all(torch.equal(state[k], v) for k, v in expected["state"].items()), "weights differ"
    with torch.no_grad():  # same weights; outputs of another process are compared up to float32 rounding
        torch.testing.assert_close(model(poses=expected["inputs"]).poses_3d, expected["outputs"])
"""


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module, prefix: str = "") -> None:
    state_a = {k: v for k, v in a.state_dict().items() if k.startswith(prefix)}
    state_b = {k: v for k, v in b.state_dict().items() if k.startswith(prefix)}
    assert state_a.keys() == state_b.keys() and state_a
    for key, value in state_a.items():
        assert torch.equal(value, state_b[key]), key


# ---------------------------------------------------------------------------------------------------------------
# Push and load
# ---------------------------------------------------------------------------------------------------------------


def test_push_to_hub_then_from_pretrained_gives_identical_outputs_at_each_revision(hub_env):
    repo_id = hub_env.unique_repo_id("lift")
    model = lifting_model(seed=0)
    first = model.push_to_hub(repo_id).oid
    x = keypoints()

    reloaded = MPMForPoseLifting.from_pretrained(repo_id).eval()
    assert_same_state(model, reloaded)
    assert torch.equal(reloaded(poses=x).poses_3d, model(poses=x).poses_3d)

    retrained = lifting_model(seed=1)
    second = retrained.push_to_hub(repo_id).oid
    assert second != first
    assert torch.equal(MPMForPoseLifting.from_pretrained(repo_id).eval()(poses=x).poses_3d,
                       retrained(poses=x).poses_3d)
    assert torch.equal(MPMForPoseLifting.from_pretrained(repo_id, revision=first).eval()(poses=x).poses_3d,
                       model(poses=x).poses_3d)


def test_pose_lifting_pipeline_from_a_repo_id(hub_env):
    repo_id = hub_env.unique_repo_id("pipe")
    model = lifting_model()
    model.push_to_hub(repo_id)
    sequence = (keypoints(batch=1)[0].numpy() * 500 + 500).astype(np.float32)  # 27 frames of pixels

    lifter = pipeline("pose-lifting", model=repo_id)
    result = lifter(sequence, image_size=(1000, 1000))
    expected = pipeline("pose-lifting", model=model)(sequence, image_size=(1000, 1000))
    assert result["poses_3d"].shape == (27, 17, 3) and result["units"] == "m"
    np.testing.assert_array_equal(result["poses_3d"], expected["poses_3d"])


def test_stage_one_repo_loads_into_the_lifting_head_with_shared_weights(hub_env):
    repo_id = hub_env.unique_repo_id("stage1")
    stage_one = randomised(MPMForMaskedPoseModeling(tiny_config()))
    stage_one.push_to_hub(repo_id)

    lifting = MPMForPoseLifting.from_pretrained(repo_id)
    assert_same_state(stage_one, lifting, prefix="mpm.")
    assert lifting.config.architectures == ["MPMForMaskedPoseModeling"]
    assert lifting(poses=keypoints()).poses_3d.shape == (2, 1, 17, 3)


_REMOTE_CODE_SCRIPT = _CHECK + textwrap.dedent(
    """
    import importlib.util, sys
    assert importlib.util.find_spec("mpm_hf") is None, "mpm_hf must not be importable here"
    import torch
    from transformers import AutoModel

    repo_id, expected = sys.argv[1:]
    model = AutoModel.from_pretrained(repo_id, trust_remote_code=True).eval()
    assert type(model).__name__ == "MPMForPoseLifting", type(model)
    check(model, expected)
    print("ok", type(model).__module__)
    """
)


@pytest.mark.slow  # a fresh interpreter importing torch + transformers: ~5 s
def test_trust_remote_code_from_the_hub_without_the_package(hub_env, tmp_path):
    repo_id = hub_env.unique_repo_id("remote-code")
    model = lifting_model()
    push_model_to_hub(model, repo_id)
    files = set(HfApi().list_repo_files(repo_id))
    assert {"configuration_mpm.py", "modeling_mpm.py", "pipeline_mpm.py", "config.json", "README.md"} <= files
    expected = save_expectation(model, tmp_path / "expected.pt")

    out = run_python(_REMOTE_CODE_SCRIPT, hub_env.subprocess_env(), tmp_path, repo_id, str(expected),
                     hide_mpm_hf=True)
    assert out.startswith("ok transformers_modules.")


# ---------------------------------------------------------------------------------------------------------------
# Converted checkpoints, the push script and model cards
# ---------------------------------------------------------------------------------------------------------------


def test_converted_released_checkpoint_pushed_with_the_script_and_pulled_back(hub_env, tmp_path, capsys):
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    try:
        from reference_mpm import ReferenceMPMLift
    finally:
        sys.path.remove(str(REPO_ROOT / "benchmarks"))
    reference = randomised(ReferenceMPMLift(layers=2, channel=32, d_hid=64, frames=27, n_joints=17,
                                            stride_num=[3, 3, 3]))
    torch.save(reference.state_dict(), tmp_path / "released.pth")
    folder = tmp_path / "converted"
    convert = load_script("convert_mpm_original_checkpoint")
    assert convert.main(["--checkpoint", str(tmp_path / "released.pth"), "--task", "lifting", "--num-frames", "27",
                         "--num-layers", "2", "--output", str(folder)]) == 0
    assert MPMConfig.from_pretrained(folder).downsample == 2  # a 17-joint (Human3.6M) release model: tds 2
    (tmp_path / "eval.json").write_text(json.dumps(REPORT))

    repo_id = hub_env.unique_repo_id("converted")
    push = load_script("push_to_hub")
    capsys.readouterr()
    assert push.main([str(folder), "--repo-id", repo_id, "--results", str(tmp_path / "eval.json"),
                      "--datasets", "h36m,3dhp"]) == 0
    printed = capsys.readouterr().out
    head = HfApi().model_info(repo_id).sha
    assert f"commit {head}" in printed

    pulled = MPMForPoseLifting.from_pretrained(repo_id).eval()
    x = keypoints()
    centre, _ = reference(x)
    torch.testing.assert_close(pulled(poses=x).poses_3d[..., 1:, :], centre[..., 1:, :], atol=1e-4, rtol=0)
    assert_same_state(MPMForPoseLifting.from_pretrained(folder), pulled)
    card = ModelCard.load(repo_id)
    assert card.data.library_name == LIBRARY_NAME and card.data.datasets == ["human3.6m", "mpi-inf-3dhp"]
    assert {(r.metric_type, r.metric_value) for r in card.data.eval_results} == {("mpjpe", 41.23), ("p-mpjpe", 33.5)}


def test_pushed_model_card_metadata_and_body(hub_env, tmp_path):
    folder = tmp_path / "model"
    lifting_model().save_pretrained(folder)
    (folder / "eval_results.json").write_text(json.dumps([REPORT, {**REPORT, "keypoints": "sh_pt_mpii",
                                                                   "mpjpe": 52.0, "p_mpjpe": 40.25}]))
    (folder / "README.md").write_text("stale hand-written card")
    (folder / "checkpoints" / "checkpoint-5").mkdir(parents=True)  # a training run's accelerate states
    (folder / "checkpoints" / "checkpoint-5" / "optimizer.bin").write_bytes(b"moments")
    repo_id = hub_env.unique_repo_id("card")
    commit = push_model_to_hub(folder, repo_id, private=True, training={"epochs": 3},
                               datasets=("h36m", "amass"))

    api = HfApi()
    assert commit.oid == api.model_info(repo_id).sha and commit.commit_url == str(commit)
    assert not HfApi(token=False).repo_exists(repo_id)  # private
    files = api.list_repo_files(repo_id)
    assert "eval_results.json" in files and not any(name.startswith("checkpoints/") for name in files)
    card = ModelCard.load(repo_id)
    data = card.data
    assert data.library_name == "transformers" and data.license == "other"
    assert data.tags == list(TAGS) and data.datasets == ["human3.6m", "amass"]
    assert {"custom_code", "pose-lifting"} <= set(data.tags)  # the Hub has no pose-lifting task: a tag
    assert data.pipeline_tag == "keypoint-detection"  # the Hub task whose sub-task is pose estimation
    results = {(r.dataset_config, r.metric_type): r.metric_value for r in data.eval_results}
    assert results == {("gt", "mpjpe"): 41.23, ("gt", "p-mpjpe"): 33.5,
                       ("sh_pt_mpii", "mpjpe"): 52.0, ("sh_pt_mpii", "p-mpjpe"): 40.25}
    assert all(r.task_type == "pose-lifting" and r.dataset_name == "Human3.6M" for r in data.eval_results)
    assert "stale hand-written card" not in card.text
    assert "| 41.23 |" in card.text and "| 40.25 |" in card.text
    assert "academic, non-commercial" in card.text and "AMASS" in card.text and "**epochs**: 3" in card.text
    assert f'pipeline("pose-lifting", model="{repo_id}")' in card.text
    assert re.search(r"\{\{\s*\w+\s*\}\}", card.text) is None and "arXiv:2306.17201" in card.text


def test_card_without_results_says_not_evaluated_and_has_no_model_index():
    config = tiny_config(architectures=["MPMForMaskedPoseModeling"])
    text = generate_model_card(config, repo_id="mpm-hf/stage1")
    card = ModelCard(text)
    assert card.data.library_name == "transformers" and card.data.eval_results is None
    assert card.data.pipeline_tag == "keypoint-detection"
    assert "model-index" not in text and "Not evaluated" in text
    assert "MPMForPoseLifting.from_pretrained(\"mpm-hf/stage1\")" in text  # a stage-I card points to fine-tuning
    num_parameters = sum(p.numel() for p in MPMForMaskedPoseModeling(config).parameters())
    assert f"({num_parameters:,})" in text
    assert "| Frames per window | 27 " in text


@pytest.mark.parametrize(("normalization", "units"), [("window", "may be in any units"),
                                                      ("screen", "are normalised screen coordinates")])
def test_card_states_the_input_units_and_the_window_span_of_its_config(normalization, units):
    config = tiny_config(architectures=["MPMForPoseCompletion"], input_normalization=normalization, downsample=6,
                         fps=50.0)
    text = " ".join(generate_model_card(config, repo_id="mpm-hf/completion").split())
    assert f"When the model is called directly, 2D inputs {units}" in text
    span = (config.num_frames - 1) * 6 + 1
    assert f"a window spans {span} video frames" in text  # the configuration table
    assert f"a window spanning {span} video frames ({span / 50:.1f} s at 50 fps;" in text  # the limitations
    without_rate = " ".join(generate_model_card(tiny_config(fps=None), repo_id="mpm-hf/x").split())
    assert "video frames. Near the ends of a sequence" in without_rate


def test_completion_results_name_how_the_given_joints_were_scored():
    from mpm_hf.hub.eval_results import result_rows

    reports = [{"task": "completion_3d", "keep_visible": kept, "mpjpe_by_occlusion": {"left arm": 20.0}}
               for kept in (True, False)] + [{"task": "completion_2d", "mpjpe_by_occlusion": {"2 legs": 90.0}}]
    kept, raw, two_d = result_rows(reports, "completion_3d", "h36m")
    assert kept.protocol == "given joints kept" and raw.protocol == "every joint from the model"
    assert two_d.protocol is None and kept.metric_name == "MPJPE, left arm occluded (mm)"
    flipped = [{**report, "flip_test": True} for report in reports]  # completion reports have no "mode"
    kept, raw, two_d = result_rows(flipped, "completion_3d", "h36m")
    assert (kept.protocol, raw.protocol, two_d.protocol) == (
        "flip test, given joints kept", "flip test, every joint from the model", "flip test")


def test_completion_results_show_the_papers_figure_for_the_same_setting():
    from mpm_hf.hub.eval_results import result_rows, results_section

    reports = [{"task": "completion_2d", "mpjpe_by_occlusion": {"2 legs": 79.9, "2 joints": 60.5}},
               {"task": "completion_3d", "keep_visible": True, "mpjpe_by_occlusion": {"left arm": 26.6}},
               {"task": "completion_3d", "keep_visible": False, "mpjpe_by_occlusion": {"left arm": 45.8}},
               {"task": "completion_2d", "dataset": "3dhp", "mpjpe_by_occlusion": {"2 legs": 70.0}}]
    table = results_section(result_rows(reports, "completion_3d", "h36m"), "org/x").splitlines()
    assert table[0].endswith("| Value | Paper |")
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:7]]
    assert [(row[5], row[6], row[7]) for row in cells] == [
        ("MPJPE, 2 legs occluded (mm)", "79.90", "62.1"),  # the paper's Table 3
        ("MPJPE, 2 joints occluded (mm)", "60.50", "-"),  # the paper has no figure for it
        ("MPJPE, left arm occluded (mm)", "26.60", "24.0"),  # Table 4, the given joints kept as the paper scores
        ("MPJPE, left arm occluded (mm)", "45.80", "-"),  # every joint from the model: not the paper's protocol
        ("MPJPE, 2 legs occluded (mm)", "70.00", "-"),  # another dataset: not the paper's setting
    ]
    assert "Paper: the MPJPE Zhang et al. report" in table[-1]
    lifting = results_section(result_rows([{"mpjpe": 51.8}], "lifting", "h36m"), "org/x")
    assert "Paper" not in lifting and lifting.splitlines()[0].endswith("| Value |")


@pytest.mark.parametrize(("frame_step", "protocol"), [(1, "flip test"), (2, "flip test, every 2nd frame"),
                                                     (3, "flip test, every 3rd frame"),
                                                     (10, "flip test, every 10th frame"),
                                                     (12, "flip test, every 12th frame"),
                                                     (21, "flip test, every 21st frame")])
def test_results_name_a_subset_of_the_frames(frame_step, protocol):
    from mpm_hf.hub.eval_results import result_rows

    report = {"task": "completion_2d", "flip_test": True, "frame_step": frame_step,
              "mpjpe_by_occlusion": {"2 legs": 80.0}}
    (row,) = result_rows([report], "completion_3d", "h36m")
    assert row.protocol == protocol


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ({"dataset": "h36m"}, "expected at least one of"),
        ({"mpjpe": math.nan}, "results\\[0\\].mpjpe: expected a finite number"),
        ({"mpjpe": "40"}, "expected a finite number"),
        ({"task": "detection", "mpjpe": 40.0}, "results\\[0\\].task"),
        ([], "non-empty list"),
    ],
)
def test_card_rejects_malformed_results(results, message):
    with pytest.raises(ValueError, match=message):
        generate_model_card(tiny_config(), results=results)


def test_push_script_rejects_folders_that_are_not_mpm_checkpoints(tmp_path, capsys):
    push = load_script("push_to_hub")
    lifting_model().save_pretrained(tmp_path / "no-config")
    (tmp_path / "no-config" / "config.json").unlink()
    BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path / "bert")
    lifting_model().save_pretrained(tmp_path / "good")
    cases = {
        str(tmp_path / "missing"): "no such folder",
        str(tmp_path / "no-config"): "no config.json",
        str(tmp_path / "bert"): "model_type 'bert', expected 'mpm'",
    }
    for folder, message in cases.items():
        capsys.readouterr()
        assert push.main([folder, "--repo-id", "tester/never-created"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert push.main([str(tmp_path / "good"), "--repo-id", "tester/x", "--results", str(tmp_path / "nope")]) == 2
    assert "--results" in capsys.readouterr().err


def test_push_script_reports_a_failed_upload_in_one_line(hub_env, tmp_path, capsys):
    lifting_model().save_pretrained(tmp_path / "model")
    repo_id = hub_env.unique_repo_id("denied")
    capsys.readouterr()
    assert load_script("push_to_hub").main([str(tmp_path / "model"), "--repo-id", repo_id, "--token", "hf_wrong"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: upload to {repo_id} failed: ") and err.count("\n") == 1, err
    assert not HfApi().repo_exists(repo_id)


# ---------------------------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------------------------


def test_h36m_dataset_push_to_hub_then_load_dataset(hub_env, tmp_path):
    import datasets

    from mpm_hf.data.h36m import load_h36m

    from .test_h36m import _write_dataset

    _write_dataset(tmp_path)
    dataset = load_h36m(tmp_path, subjects=("S1", "S5"), keypoints="gt")
    assert dataset.num_rows == 16
    repo_id = hub_env.unique_repo_id("h36m")
    dataset.push_to_hub(repo_id, private=True)

    loaded = datasets.load_dataset(repo_id, split="train")
    assert loaded.features == dataset.features
    assert loaded.to_dict() == dataset.to_dict()
    first = loaded.with_format("numpy")[0]
    assert first["poses_3d"].dtype == np.float32 and first["poses_3d"].shape[1:] == (17, 3)


# ---------------------------------------------------------------------------------------------------------------
# Offline mode and failures
# ---------------------------------------------------------------------------------------------------------------


_OFFLINE_SCRIPT = _CHECK + textwrap.dedent(
    """
    import json, sys
    import torch
    from mpm_hf import MPMForPoseLifting

    repo_id, missing_repo, expected = sys.argv[1:]
    check(MPMForPoseLifting.from_pretrained(repo_id).eval(), expected)
    try:
        MPMForPoseLifting.from_pretrained(missing_repo)
        error = None
    except OSError as err:
        error = str(err)
    print(json.dumps({"error": error}))
    """
)


@pytest.mark.slow  # a fresh interpreter importing torch + transformers + mpm_hf: ~5 s
def test_offline_mode_loads_the_cached_model_and_fails_clearly_otherwise(hub_env, tmp_path):
    repo_id = hub_env.unique_repo_id("offline")
    model = lifting_model()
    model.push_to_hub(repo_id)
    MPMForPoseLifting.from_pretrained(repo_id)  # online: fills the cache
    expected = save_expectation(model, tmp_path / "expected.pt")
    hub_env.server.clear_request_log()

    out = run_python(_OFFLINE_SCRIPT, hub_env.subprocess_env(HF_HUB_OFFLINE="1"), tmp_path, repo_id,
                     hub_env.unique_repo_id("never-cached"), str(expected))
    error = json.loads(out.strip().splitlines()[-1])["error"]
    assert error is not None and "couldn't find them in the cached files" in error
    assert hub_env.server.requests == []  # offline: no HTTP at all


def test_repo_without_config_json_is_a_clear_error(hub_env, tmp_path):
    api = HfApi()
    weights_only = hub_env.unique_repo_id("no-config")
    api.create_repo(weights_only)
    lifting_model().save_pretrained(tmp_path / "model")
    api.upload_file(path_or_fileobj=tmp_path / "model" / "model.safetensors", path_in_repo="model.safetensors",
                    repo_id=weights_only)
    empty = hub_env.unique_repo_id("empty")
    api.create_repo(empty)
    for repo_id in (weights_only, empty):
        with pytest.raises(OSError, match="config.json"):
            MPMForPoseLifting.from_pretrained(repo_id)


def test_config_of_another_model_type_is_a_clear_error(hub_env):
    """Without the check, transformers only warns and loads a BERT repo as an MPM model with random weights."""
    from transformers import BertModel

    repo_id = hub_env.unique_repo_id("bert")
    config = BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                        vocab_size=100)
    BertModel(config).push_to_hub(repo_id)
    with pytest.raises(ValueError, match="'bert'.*'mpm'"):
        MPMForPoseLifting.from_pretrained(repo_id)
    with pytest.raises(ValueError, match="BertConfig"):
        AutoModelForPoseLifting.from_pretrained(repo_id)


def test_truncated_weights_are_an_error_not_a_silent_load(hub_env, tmp_path):
    model = lifting_model()
    model.save_pretrained(tmp_path / "model")
    weights = (tmp_path / "model" / "model.safetensors").read_bytes()

    # 1. Served bytes shorter than the Hub's metadata says: hf_hub_download's size check refuses them.
    served_short = hub_env.unique_repo_id("served-short")
    model.push_to_hub(served_short)
    hub_env.server.tamper(served_short, "model.safetensors", weights[:-1000])
    with pytest.raises(OSError, match="Consistency check failed"):
        MPMForPoseLifting.from_pretrained(served_short)
    assert try_to_load_from_cache(served_short, "model.safetensors") is None

    # 2. A truncated file uploaded as such (the metadata agrees with it): its sha256 is not the one of
    # checksums.json, checked before the safetensors parser sees the file.
    uploaded_short = hub_env.unique_repo_id("uploaded-short")
    model.push_to_hub(uploaded_short)
    HfApi().upload_file(path_or_fileobj=weights[:-1000], path_in_repo="model.safetensors", repo_id=uploaded_short)
    with pytest.raises(ValueError, match=f"{uploaded_short}/model.safetensors: expected sha256"):
        MPMForPoseLifting.from_pretrained(uploaded_short)


def test_tampered_weights_of_the_same_size(hub_env, tmp_path):
    """The Hub client checks sizes only, so a flipped byte in the tensor data would load silently: MPM checkpoints
    carry ``checksums.json`` (sha256 per weight file) and ``from_pretrained`` refuses a mismatch;
    ``HfApi.verify_repo_checksums`` agrees. A flipped byte in the safetensors header is refused the same way, before
    the parser sees it; without ``checksums.json`` the parser refuses it."""
    model = lifting_model()
    model.save_pretrained(tmp_path / "model")
    weights = (tmp_path / "model" / "model.safetensors").read_bytes()
    header_end = 8 + int.from_bytes(weights[:8], "little")

    data_flip = hub_env.unique_repo_id("data-flip")
    commit = model.push_to_hub(data_flip).oid
    served = hub_env.server.tamper(data_flip, "model.safetensors")  # flips the middle byte: tensor data
    assert len(served) == len(weights) and len(weights) // 2 > header_end
    with pytest.raises(ValueError, match="model.safetensors: expected sha256"):
        MPMForPoseLifting.from_pretrained(data_flip)
    report = HfApi().verify_repo_checksums(data_flip, revision=commit)
    assert [(m["path"], m["algorithm"]) for m in report.mismatches] == [("model.safetensors", "sha256")]

    header_flip = hub_env.unique_repo_id("header-flip")
    model.push_to_hub(header_flip)
    corrupted = bytearray(weights)
    corrupted[20] ^= 0xFF  # inside the JSON header
    hub_env.server.tamper(header_flip, "model.safetensors", bytes(corrupted))
    with pytest.raises(ValueError, match="model.safetensors: expected sha256"):
        MPMForPoseLifting.from_pretrained(header_flip)
    HfApi().delete_file("checksums.json", repo_id=header_flip)
    with pytest.warns(UserWarning, match="no checksums.json"), pytest.raises(SafetensorError):
        MPMForPoseLifting.from_pretrained(header_flip)


def test_network_failure_mid_download_leaves_no_cache_entry_that_loads_later(hub_env):
    repo_id = hub_env.unique_repo_id("cut")
    model = lifting_model()
    model.push_to_hub(repo_id)
    # The body is cut after 50 kB; the client resumes once and that request gets a 500.
    hub_env.server.fail_next_download("model.safetensors", after_bytes=50_000)
    hub_env.server.fail_next_request("model.safetensors", status=500)
    with pytest.raises(OSError):
        MPMForPoseLifting.from_pretrained(repo_id)

    assert try_to_load_from_cache(repo_id, "model.safetensors") is None
    leftovers = [p for p in hub_env.hub_cache.rglob("*") if p.is_file() and p.suffix == ".incomplete"]
    assert leftovers == []
    with pytest.raises(OSError):
        MPMForPoseLifting.from_pretrained(repo_id, local_files_only=True)

    reloaded = MPMForPoseLifting.from_pretrained(repo_id).eval()
    x = keypoints()
    assert torch.equal(reloaded(poses=x).poses_3d, model(poses=x).poses_3d)
