"""mpm-hf: MPM (Masked Pose Modeling, Zhang et al. 2023) as a Hugging Face transformers-style package."""

from . import checksums
from .auto import AutoModelForPoseCompletion, AutoModelForPoseLifting, register_auto_classes
from .configuration_mpm import MPMConfig
from .defaults import default_model_path
from .modeling_mpm import (
    MPMForMaskedPoseModeling,
    MPMForPoseCompletion,
    MPMForPoseLifting,
    MPMMaskedPoseModelingOutput,
    MPMModel,
    MPMModelOutput,
    MPMPoseCompletionOutput,
    MPMPoseLiftingOutput,
    MPMPreTrainedModel,
)
from .pipelines import MPMPoseCompletionPipeline, MPMPoseLiftingPipeline, register_pipelines

__version__ = "0.1.0"

register_auto_classes()
register_pipelines()
# save_pretrained writes checksums.json and from_pretrained verifies it (see mpm_hf.checksums)
MPMPreTrainedModel._checkpoint_integrity = checksums

__all__ = [
    "AutoModelForPoseCompletion",
    "AutoModelForPoseLifting",
    "MPMConfig",
    "MPMForMaskedPoseModeling",
    "MPMForPoseCompletion",
    "MPMForPoseLifting",
    "MPMMaskedPoseModelingOutput",
    "MPMModel",
    "MPMModelOutput",
    "MPMPoseCompletionOutput",
    "MPMPoseLiftingOutput",
    "MPMPoseCompletionPipeline",
    "MPMPoseLiftingPipeline",
    "MPMPreTrainedModel",
    "default_model_path",
    "register_pipelines",
]
