"""Registration of MPM with the ``transformers`` Auto classes, and the project's ``AutoModelForPoseLifting``.

A saved model folder holds what ``trust_remote_code`` needs: ``configuration_mpm.py`` and ``modeling_mpm.py``
(``auto_map`` in ``config.json``) and, for a lifting or completion head, ``pipeline_mpm.py`` (``custom_pipelines``),
so that ``transformers.pipeline("pose-lifting", model=folder, trust_remote_code=True)`` works in a process that has
not imported this package (the pipeline file imports the installed package).
"""

from __future__ import annotations

import os
import shutil
from collections import OrderedDict
from pathlib import Path

from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, PreTrainedModel
from transformers.models.auto.auto_factory import _BaseAutoModelClass, _LazyAutoMapping

from .checksums import check_local_path
from .configuration_mpm import MPMConfig
from .modeling_mpm import (
    MPMForMaskedPoseModeling,
    MPMForPoseCompletion,
    MPMForPoseLifting,
    MPMModel,
    MPMPreTrainedModel,
)

HUB_PIPELINE_FILE = "pipeline_mpm.py"
"""The name a model folder gives the pipeline file; its source is ``mpm_hf/hub_pipeline.py``."""

HUB_PIPELINE_SOURCE = Path(__file__).with_name("hub_pipeline.py")

# The pipeline each head declares in its folder: head -> (task, class of ``hub_pipeline``). The model is loaded with
# ``AutoModel`` (which gives the saved head, see below): ``transformers`` resolves "pt" names in its own namespace.
_CUSTOM_PIPELINES: dict[str, tuple[str, str]] = {
    "MPMForPoseLifting": ("pose-lifting", "MPMPoseLiftingPipeline"),
    "MPMForPoseCompletion": ("pose-completion", "MPMPoseCompletionPipeline"),
}


class _MPMAutoModelClass(_BaseAutoModelClass):
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        # a local path that does not exist fails here, not in AutoConfig after the Hub client's retries
        return super().from_pretrained(check_local_path(pretrained_model_name_or_path), *model_args, **kwargs)


class AutoModelForPoseLifting(_MPMAutoModelClass):
    """``AutoModelForPoseLifting.from_pretrained(folder_or_repo)`` -> the lifting head registered for its config."""

    _model_mapping = _LazyAutoMapping(OrderedDict(), OrderedDict())


class AutoModelForPoseCompletion(_MPMAutoModelClass):
    """``AutoModelForPoseCompletion.from_pretrained(folder_or_repo)`` -> the completion head for its config."""

    _model_mapping = _LazyAutoMapping(OrderedDict(), OrderedDict())


def register_auto_classes() -> None:
    """Register MPM with AutoConfig/AutoModel/AutoModelForPreTraining and the project Auto classes (idempotent).

    Each class is also registered for ``trust_remote_code`` export: ``save_pretrained`` copies
    ``configuration_mpm.py`` and ``modeling_mpm.py`` next to the weights and writes ``auto_map`` into
    ``config.json``, so the folder loads with ``AutoModel.from_pretrained(folder, trust_remote_code=True)`` without
    this package; lifting and completion heads also declare their pipeline (`declare_custom_pipeline`).
    """
    AutoConfig.register(MPMConfig.model_type, MPMConfig, exist_ok=True)
    # AutoModel loads a folder into the class it was saved from (``config.architectures``) when that is the base or a
    # stage-II head, as the folder's ``auto_map`` does with remote code; into the base model otherwise. Without this
    # a lifting folder's custom pipeline (``"pt": ["AutoModel"]``) would get the base model once mpm_hf is imported.
    AutoModel.register(MPMConfig, (MPMModel, MPMForPoseLifting, MPMForPoseCompletion), exist_ok=True)
    AutoModelForPreTraining.register(MPMConfig, MPMForMaskedPoseModeling, exist_ok=True)
    AutoModelForPoseLifting.register(MPMConfig, MPMForPoseLifting, exist_ok=True)
    AutoModelForPoseCompletion.register(MPMConfig, MPMForPoseCompletion, exist_ok=True)

    MPMConfig.register_for_auto_class()
    MPMModel.register_for_auto_class("AutoModel")
    MPMForMaskedPoseModeling.register_for_auto_class("AutoModelForPreTraining")
    # A lifting or completion folder is loaded by AutoModel with remote code: its saved class is the head itself.
    MPMForPoseLifting.register_for_auto_class("AutoModel")
    MPMForPoseCompletion.register_for_auto_class("AutoModel")
    MPMPreTrainedModel._declare_custom_pipeline = staticmethod(declare_custom_pipeline)


def declare_custom_pipeline(model: PreTrainedModel, save_directory: str | os.PathLike) -> None:
    """Put the pipeline of ``model``'s head in ``save_directory`` and declare it in ``model.config``.

    Called by ``MPMPreTrainedModel.save_pretrained`` before the config is written. A lifting or completion head gets
    ``pipeline_mpm.py`` (a copy of ``mpm_hf/hub_pipeline.py``) and ``config.custom_pipelines = {task: {"impl":
    "pipeline_mpm.<class>", "pt": ["AutoModel"]}}``; any other head neither (a stale file or entry, left by a folder
    or config of another head, is removed).
    """
    folder = Path(save_directory)
    head = _CUSTOM_PIPELINES.get(type(model).__name__)
    if head is None:
        del model.config.custom_pipelines
        (folder / HUB_PIPELINE_FILE).unlink(missing_ok=True)
        return
    task, pipeline_class = head
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HUB_PIPELINE_SOURCE, folder / HUB_PIPELINE_FILE)
    model.config.custom_pipelines = {
        task: {"impl": f"{Path(HUB_PIPELINE_FILE).stem}.{pipeline_class}", "pt": ["AutoModel"]}
    }


# The heads a task runs, by the class a checkpoint was saved from (``config.architectures``): a checkpoint loaded
# into another head would run with randomly initialised layers.
TASK_HEADS: dict[str, tuple[str, ...]] = {
    "lifting": ("MPMForPoseLifting",),
    # a stage-I model's 3D decoder completes masked poses as well
    "completion": ("MPMForPoseCompletion", "MPMForMaskedPoseModeling"),
    # occluded 2D joints: a completion model, or a lifting model fed the occluded joints as masked joints
    "completion_2d": ("MPMForPoseLifting", "MPMForPoseCompletion", "MPMForMaskedPoseModeling"),
}
_HEAD_CLASSES = {"MPMForPoseLifting": MPMForPoseLifting, "MPMForPoseCompletion": MPMForPoseCompletion,
                 "MPMForMaskedPoseModeling": MPMForPoseCompletion}


def head_class_for(name_or_path: str, task: str, **kwargs) -> type:
    """The class to load the checkpoint ``name_or_path`` into for ``task`` (a key of ``TASK_HEADS``).

    Raises ``ValueError`` naming the checkpoint's class when its heads were not trained for the task (``kwargs`` go
    to ``MPMConfig.from_pretrained``: revision, token, ...). A config that names no class (written by
    ``config.save_pretrained`` alone) is taken to be of the task's first head.
    """
    if task not in TASK_HEADS:
        raise ValueError(f"task: expected one of {sorted(TASK_HEADS)}, got {task!r}")
    saved = (MPMConfig.from_pretrained(check_local_path(name_or_path), **kwargs).architectures or TASK_HEADS[task])[0]
    if saved not in TASK_HEADS[task]:
        raise ValueError(
            f"{name_or_path}: {task.replace('_', ' ')} needs a checkpoint of {' or '.join(TASK_HEADS[task])}, got "
            f"one of {saved}"
        )
    return _HEAD_CLASSES[saved]
