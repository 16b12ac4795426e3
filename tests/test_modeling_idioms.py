"""The model follows transformers' idioms: the attention interface, masks as tensors, a saved folder that holds only
what its config names (auto_map, custom_pipelines), and a folder pipeline that works without ``import mpm_hf``."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import AttentionInterface, AutoModel, pipeline
from transformers.dynamic_module_utils import get_relative_imports

import mpm_hf.modeling_mpm as modeling_mpm
from mpm_hf import (
    MPMConfig,
    MPMForMaskedPoseModeling,
    MPMForPoseCompletion,
    MPMForPoseLifting,
    MPMModel,
)
from mpm_hf.auto import HUB_PIPELINE_FILE
from mpm_hf.masking import body_part_mask
from mpm_hf.modeling_mpm import MPMSelfAttention

from .conftest import REPO_ROOT
from .test_modeling import _site_without_mpm, poses, tiny_config

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from reference_mpm import MultiHeadedAttention  # noqa: E402

HEADS = (MPMModel, MPMForMaskedPoseModeling, MPMForPoseLifting, MPMForPoseCompletion)


# ---------------------------------------------------------------------------------------------- attention


def test_eager_attention_is_the_release_bit_for_bit_and_sdpa_agrees():
    config = tiny_config(hidden_size=64, num_attention_heads=8, attention_dropout=0.0)
    MPMForPoseLifting(config)  # a model sets config._attn_implementation (sdpa by default)
    assert config._attn_implementation == "sdpa"
    release = MultiHeadedAttention(8, 64, 0.0).eval()
    ours = MPMSelfAttention(config).eval()
    with torch.no_grad():
        ours.qkv.weight.copy_(torch.cat([linear.weight for linear in release.linears[:3]]))
        ours.qkv.bias.copy_(torch.cat([linear.bias for linear in release.linears[:3]]))
        ours.out_proj.load_state_dict(release.linears[3].state_dict())
        x = torch.randn(16, 27, 64, generator=torch.Generator().manual_seed(1))
        expected = release(x)
        sdpa = ours(x)
        config._attn_implementation = "eager"
        eager = ours(x)
    assert torch.equal(eager, expected)
    torch.testing.assert_close(sdpa, expected, atol=1e-6, rtol=0)


def test_attention_goes_through_the_attention_interface(monkeypatch, tmp_path):
    calls = []
    eager = modeling_mpm.eager_attention_forward

    def recording_attention(module, query, key, value, attention_mask, **kwargs):
        calls.append((type(module).__name__, tuple(query.shape), kwargs["dropout"], kwargs["is_causal"]))
        return eager(module, query, key, value, attention_mask, **kwargs)

    AttentionInterface.register("mpm_test_recording", recording_attention)
    model = MPMForPoseLifting(tiny_config()).eval()
    x = poses()
    expected = model(poses=x).poses_3d
    model.set_attn_implementation("mpm_test_recording")
    torch.testing.assert_close(model(poses=x).poses_3d, expected, atol=1e-5, rtol=0)
    # 2 temporal layers over 27 frames, then strided layers over 27, 9 and 3 frames; 4 heads of 8 channels
    assert [shape for _, shape, _, _ in calls] == [(2, 4, 27, 8)] * 3 + [(2, 4, 9, 8), (2, 4, 3, 8)]
    assert {(name, dropout, causal) for name, _, dropout, causal in calls} == {("MPMSelfAttention", 0.0, False)}

    # "eager" is eager_attention_forward, whether set on the model or chosen at loading
    calls.clear()
    monkeypatch.setattr(modeling_mpm, "eager_attention_forward", recording_attention)
    model.set_attn_implementation("eager")
    model(poses=x)
    assert len(calls) == 5
    model.save_pretrained(tmp_path)
    loaded = MPMForPoseLifting.from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert loaded.config._attn_implementation == "eager"
    calls.clear()
    torch.testing.assert_close(loaded(poses=x).poses_3d, expected, atol=1e-5, rtol=0)
    assert len(calls) == 5


def test_cpu_training_with_dropout_takes_the_explicit_product(monkeypatch):
    chosen = []
    original = modeling_mpm.eager_attention_forward
    monkeypatch.setattr(modeling_mpm, "eager_attention_forward",
                        lambda *args, **kwargs: chosen.append(kwargs["dropout"]) or original(*args, **kwargs))
    model = MPMForPoseLifting(tiny_config(attention_dropout=0.1))
    assert model.config._attn_implementation == "sdpa"
    model.eval()(poses=poses())
    assert chosen == []  # inference: SDPA
    model.train()(poses=poses(), labels=poses(coords=3)).loss.backward()
    assert chosen == [0.1] * 5  # SDPA's CPU dropout kernel is slower than the explicit product
    chosen.clear()
    MPMForPoseLifting(tiny_config(attention_dropout=0.0)).train()(poses=poses())
    assert chosen == []


# ---------------------------------------------------------------------------------------------- inputs


def test_heads_name_their_first_input():
    for head in HEADS:
        first = list(inspect.signature(head.forward).parameters)[1]  # after self
        assert head.main_input_name == first, head.__name__
    assert MPMForMaskedPoseModeling.main_input_name == "keypoints_2d"


def test_completion_takes_a_mask_tensor_not_names():
    parameters = inspect.signature(MPMForPoseCompletion.forward).parameters
    assert list(parameters) == ["self", "poses", "spatial_mask", "labels", "return_dict"]
    model = MPMForPoseCompletion(tiny_config()).eval()
    x = poses(coords=3)
    hidden = body_part_mask("left_arm", batch_size=2, num_frames=27)
    output = model(poses=x, spatial_mask=hidden)
    assert torch.equal(output.spatial_mask, hidden)
    # the hidden joints' coordinates do not reach the model
    changed = x.clone()
    changed[..., 11:14, :] = 5.0
    torch.testing.assert_close(model(poses=changed, spatial_mask=hidden).poses_3d, output.poses_3d)
    with pytest.raises(TypeError, match="occluded_joints"):
        model(poses=x, occluded_joints="left_arm")


# ---------------------------------------------------------------------------------------------- saved folders


def _needed_python_files(folder) -> set[str]:
    """The .py files a folder's config.json names (auto_map, custom_pipelines) and those they import relatively."""
    config = json.loads((folder / "config.json").read_text())
    references = list(config.get("auto_map", {}).values())
    references += [info["impl"] for info in config.get("custom_pipelines", {}).values()]
    needed = {reference.split(".")[0] + ".py" for reference in references}
    pending = list(needed)
    while pending:
        for module in get_relative_imports(folder / pending.pop()):
            if module + ".py" not in needed:
                needed.add(module + ".py")
                pending.append(module + ".py")
    return needed


def test_modeling_file_imports_only_the_configuration():
    assert get_relative_imports(modeling_mpm.__file__) == ["configuration_mpm"]


@pytest.mark.parametrize("head", HEADS, ids=lambda head: head.__name__)
def test_saved_folder_holds_what_its_config_names(tmp_path, head):
    head(tiny_config()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    auto_class = {MPMModel: "AutoModel", MPMForMaskedPoseModeling: "AutoModelForPreTraining"}.get(head, "AutoModel")
    assert config["architectures"] == [head.__name__]
    assert config["auto_map"] == {"AutoConfig": "configuration_mpm.MPMConfig",
                                  auto_class: f"modeling_mpm.{head.__name__}"}
    python_files = {path.name for path in tmp_path.glob("*.py")}
    assert python_files == _needed_python_files(tmp_path)
    # with the package, AutoModel gives what the folder's auto_map gives with remote code (stage I: its base)
    assert type(AutoModel.from_pretrained(tmp_path)) is (MPMModel if head is MPMForMaskedPoseModeling else head)
    if head in (MPMForPoseLifting, MPMForPoseCompletion):
        task = "pose-lifting" if head is MPMForPoseLifting else "pose-completion"
        impl = "MPMPoseLiftingPipeline" if head is MPMForPoseLifting else "MPMPoseCompletionPipeline"
        assert config["custom_pipelines"] == {task: {"impl": f"pipeline_mpm.{impl}", "pt": ["AutoModel"]}}
        assert python_files == {"configuration_mpm.py", "modeling_mpm.py", HUB_PIPELINE_FILE}
    else:
        assert "custom_pipelines" not in config
        assert python_files == {"configuration_mpm.py", "modeling_mpm.py"}


def test_resaving_as_another_head_leaves_no_stale_entry(tmp_path):
    MPMForMaskedPoseModeling(tiny_config()).save_pretrained(tmp_path / "stage_one")
    lifting = MPMForPoseLifting.from_pretrained(tmp_path / "stage_one")
    assert lifting.config.auto_map["AutoModelForPreTraining"] == "modeling_mpm.MPMForMaskedPoseModeling"
    lifting.save_pretrained(tmp_path / "lifting")
    config = json.loads((tmp_path / "lifting" / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "configuration_mpm.MPMConfig",
                                  "AutoModel": "modeling_mpm.MPMForPoseLifting"}
    # a base model saved over the lifting folder: no pipeline entry, no pipeline file
    MPMModel.from_pretrained(tmp_path / "lifting").save_pretrained(tmp_path / "lifting")
    config = json.loads((tmp_path / "lifting" / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "configuration_mpm.MPMConfig", "AutoModel": "modeling_mpm.MPMModel"}
    assert "custom_pipelines" not in config and not (tmp_path / "lifting" / HUB_PIPELINE_FILE).exists()


def test_declared_pipeline_is_hidden_where_the_task_is_registered(tmp_path):
    model = MPMForPoseLifting(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    config = MPMConfig.from_pretrained(tmp_path)
    # ``import mpm_hf`` registered the task: transformers would otherwise insist on trust_remote_code
    assert config.custom_pipelines == {}
    assert config.to_dict()["custom_pipelines"] == {
        "pose-lifting": {"impl": "pipeline_mpm.MPMPoseLiftingPipeline", "pt": ["AutoModel"]}}
    lifter = pipeline("pose-lifting", model=str(tmp_path))
    assert type(lifter).__module__ == "mpm_hf.pipelines"


# ---------------------------------------------------------------------------------------------- without import mpm_hf


@pytest.fixture
def saved_lifter(tmp_path):
    """A saved lifting folder, a 2D sequence and the package's pipeline output for it."""
    model = MPMForPoseLifting(tiny_config(num_frames=9)).eval()
    model.save_pretrained(tmp_path / "model")
    keypoints = np.random.default_rng(0).uniform(-0.5, 0.5, (20, 17, 2)).astype(np.float32)
    np.save(tmp_path / "keypoints.npy", keypoints)
    expected = pipeline("pose-lifting", model=model)(keypoints, normalized=True)["poses_3d"]
    np.save(tmp_path / "expected.npy", expected)
    return tmp_path


def _run(script: str, tmp_path, isolated: bool, arguments: list[str] = ()) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter; ``isolated``: one where mpm_hf cannot be imported (not installed)."""
    env = {"PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "PYTHONNOUSERSITE": "1",
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-S", "-c", _site_without_mpm() + script] if isolated else [sys.executable, "-c", script]
    return subprocess.run([*command, *arguments], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


_FOLDER_PIPELINE_SCRIPT = """
import sys
import numpy as np
from transformers import AutoModel, pipeline
folder, keypoints, expected, remote_model_first = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
if remote_model_first:  # AutoModel now maps the config to the folder's copy of the head
    assert type(AutoModel.from_pretrained(folder, trust_remote_code=True)).__module__.startswith("transformers_modules")
assert "mpm_hf" not in sys.modules  # and so "pose-lifting" is not a task transformers knows
lifter = pipeline("pose-lifting", model=folder, trust_remote_code=True)
assert any(name.endswith(".pipeline_mpm") for name in sys.modules), "the folder's pipeline file was not used"
assert type(lifter).__name__ == "MPMPoseLiftingPipeline" and type(lifter.model).__name__ == "MPMForPoseLifting"
result = lifter(np.load(keypoints), normalized=True)
np.testing.assert_allclose(result["poses_3d"], np.load(expected), atol=1e-6, rtol=0)
print("ok", type(lifter.model).__module__)
"""


@pytest.mark.parametrize("remote_model_first", [False, True], ids=["fresh", "remote_model_loaded_first"])
def test_folder_pipeline_runs_without_importing_mpm_hf(saved_lifter, remote_model_first):
    arguments = [str(saved_lifter / "model"), str(saved_lifter / "keypoints.npy"), str(saved_lifter / "expected.npy"),
                 str(int(remote_model_first))]
    done = _run(_FOLDER_PIPELINE_SCRIPT, saved_lifter, isolated=False, arguments=arguments)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]
    # the pipeline file imports mpm_hf, whose AutoModel registration gives the package's head (checksums verified)
    assert done.stdout.split()[-1] == "mpm_hf.modeling_mpm"


def test_folder_pipeline_without_the_package_names_it(saved_lifter):
    script = f"""
import importlib.util
assert importlib.util.find_spec('mpm_hf') is None, 'mpm_hf must not be importable here'
from transformers import AutoModel, pipeline
folder = {str(saved_lifter / 'model')!r}
AutoModel.from_pretrained(folder, trust_remote_code=True)  # the model itself needs no package
try:
    pipeline('pose-lifting', model=folder, trust_remote_code=True)
except ImportError as error:
    print('ImportError:', error)
"""
    done = _run(script, saved_lifter, isolated=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("ImportError: This modeling file requires the following packages that were not found in your "
            "environment: mpm_hf. Run `pip install mpm_hf`") in done.stdout
