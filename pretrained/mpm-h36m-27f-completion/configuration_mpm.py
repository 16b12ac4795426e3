"""MPM model configuration."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from transformers import PretrainedConfig

MASK_STRATEGIES = ("spatio_temporal", "spatial", "temporal")
INPUT_NORMALIZATIONS = ("screen", "window")


def default_strides(num_frames: int) -> list[int]:
    """The strided-transformer schedule that reduces ``num_frames`` to one frame.

    The released models use stride 3 at every layer (27 -> [3, 3, 3], 81 -> [3, 3, 3, 3], 243 -> [3] * 5).
    Any other length is factorised into primes, smallest first (45 -> [3, 3, 5]).
    """
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"num_frames must be a positive integer, got {num_frames!r}")
    strides, remaining = [], num_frames
    for factor in (2, 3):
        while remaining % factor == 0:
            strides.append(factor)
            remaining //= factor
    factor = 5
    while remaining > 1:
        while remaining % factor == 0:
            strides.append(factor)
            remaining //= factor
        factor += 2
    return strides


def strided_lengths(num_frames: int, strides: Sequence[int]) -> list[int]:
    """Sequence length after each strided layer (kernel 3, padding 1: ``L -> floor((L - 1) / s) + 1``)."""
    lengths = [num_frames]
    for stride in strides:
        lengths.append((lengths[-1] - 1) // stride + 1)
    return lengths


class MPMConfig(PretrainedConfig):
    r"""Configuration of an MPM model (masked pose modeling, Zhang et al., arXiv 2306.17201).

    The defaults reproduce the released 243-frame model (4 temporal layers, 256 channels, FFN 512, 8 heads).

    Args:
        num_joints (`int`, defaults to 17): joints per pose (17 = Human3.6M order, 16 = without the neck/nose).
        num_frames (`int`, defaults to 243): frames per window ``T``; odd, so that a centre frame exists.
        hidden_size (`int`, defaults to 256): width ``C`` of the shared temporal transformer.
        spatial_hidden_size (`int`, *optional*): width of the pose encoders and the shared spatial MLP;
            ``2 * hidden_size`` when not given.
        intermediate_size (`int`, defaults to 512): feed-forward width of every transformer layer.
        num_attention_heads (`int`, defaults to 8).
        num_hidden_layers (`int`, defaults to 4): layers of the shared temporal transformer.
        num_decoder_layers (`int`, defaults to 1): layers of each stage-I decoder (2D and 3D).
        strides (`list[int]`, *optional*): strided-transformer schedule of the lifting head; derived from
            ``num_frames`` when not given and validated so that the sequence reaches exactly one frame.
        spatial_dropout (`float`, defaults to 0.2): dropout in the pose encoders and the spatial MLP (the release's).
        hidden_dropout (`float`, defaults to 0.1): dropout on transformer residual branches and FFN.
        attention_dropout (`float`, defaults to 0.1): dropout on attention probabilities.
        leaky_relu_slope (`float`, defaults to 0.2).
        layer_norm_eps (`float`, defaults to 1e-6): added to the (unbiased) standard deviation, as released.
        batch_norm_momentum (`float`, defaults to 0.1).
        mask_strategy (`str`, defaults to `"spatio_temporal"`): stage-I masking, one of
            ``spatio_temporal`` (random joints per frame + random frames), ``spatial`` (the same joints in every
            frame: tube masking) or ``temporal`` (whole frames).
        spatial_mask_num_joints (`int`, defaults to 5): joints masked per frame (``r_s``).
        temporal_mask_ratio (`float`, defaults to 0.6): fraction of frames masked (``r_t``).
        loss_weight_2d, loss_weight_3d, loss_weight_lift (`float`, defaults to 2.0, 3.0, 8.0): stage-I weights of
            masked 2D modelling, masked 3D modelling and masked 2D->3D lifting.
        loss_weight_centre, loss_weight_sequence (`float`, defaults to 1.0, 1.0): stage-II lifting weights of the
            centre-frame and all-frame MPJPE.
        loss_weight_completion_sequence (`float`, defaults to 0.0): partial 2D->3D completion: weight of the
            all-frame MPJPE added to the centre frame's (0: the paper's loss, the centre frame alone; partial
            3D->3D always scores every frame).
        use_refine (`bool`, defaults to `False`): add the release's refine module to the lifting head.
        refine_hidden_size (`int`, defaults to 1024).
        initializer_range (`float`, defaults to 0.02).
        downsample (`int`, defaults to 1): frame step inside a window (the release's ``tds``: 2 for Human3.6M, a
            243-frame window then spans 485 source frames). Inference windows use the step the model was trained
            with.
        input_normalization (`str`, defaults to `"screen"`): how the model sees 2D input.
            ``"screen"`` (the release's): the coordinates are used as given, normalised screen coordinates; the
            2D then carries the image size and the person's scale and position, and a converted released
            checkpoint reproduces the release exactly. ``"window"``: each window is centred on the mean of its
            per-frame person boxes and divided by half their mean larger side (visible joints only), so lifting
            depends neither on the image size nor on the person's scale or position in the image (any
            ``a * x + b`` of the input gives the same output): pixels, normalised screen coordinates and crops
            all work. 3D input is never normalised.
        fps (`float`, *optional*): frame rate (frames per second) of the data the model was trained on (Human3.6M:
            50). With it, input at another rate is lifted at the frame spacing the model was trained on
            (`mpm_hf.frame_rate`); `None`: unknown, input is used at the model's frame step as it is.

    Units: 2D inputs are normalised screen coordinates (``x / w * 2 - 1``, ``y / w * 2 - h / w``); 3D poses are
    camera-space metres, root-relative (the pelvis, joint 0, is at the origin).
    """

    model_type = "mpm"

    def __init__(
        self,
        num_joints: int = 17,
        num_frames: int = 243,
        hidden_size: int = 256,
        spatial_hidden_size: int | None = None,
        intermediate_size: int = 512,
        num_attention_heads: int = 8,
        num_hidden_layers: int = 4,
        num_decoder_layers: int = 1,
        strides: Sequence[int] | None = None,
        spatial_dropout: float = 0.2,
        hidden_dropout: float = 0.1,
        attention_dropout: float = 0.1,
        leaky_relu_slope: float = 0.2,
        layer_norm_eps: float = 1e-6,
        batch_norm_momentum: float = 0.1,
        mask_strategy: str = "spatio_temporal",
        spatial_mask_num_joints: int = 5,
        temporal_mask_ratio: float = 0.6,
        loss_weight_2d: float = 2.0,
        loss_weight_3d: float = 3.0,
        loss_weight_lift: float = 8.0,
        loss_weight_centre: float = 1.0,
        loss_weight_sequence: float = 1.0,
        loss_weight_completion_sequence: float = 0.0,
        use_refine: bool = False,
        refine_hidden_size: int = 1024,
        initializer_range: float = 0.02,
        downsample: int = 1,
        input_normalization: str = "screen",
        fps: float | None = None,
        **kwargs,
    ):
        self.num_joints = num_joints
        self.num_frames = num_frames
        self.hidden_size = hidden_size
        self.spatial_hidden_size = spatial_hidden_size if spatial_hidden_size is not None else 2 * hidden_size
        self.intermediate_size = intermediate_size
        self.num_attention_heads = num_attention_heads
        self.num_hidden_layers = num_hidden_layers
        self.num_decoder_layers = num_decoder_layers
        self.strides = list(strides) if strides is not None else default_strides(num_frames)
        self.spatial_dropout = spatial_dropout
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.leaky_relu_slope = leaky_relu_slope
        self.layer_norm_eps = layer_norm_eps
        self.batch_norm_momentum = batch_norm_momentum
        self.mask_strategy = mask_strategy
        self.spatial_mask_num_joints = spatial_mask_num_joints
        self.temporal_mask_ratio = temporal_mask_ratio
        self.loss_weight_2d = loss_weight_2d
        self.loss_weight_3d = loss_weight_3d
        self.loss_weight_lift = loss_weight_lift
        self.loss_weight_centre = loss_weight_centre
        self.loss_weight_sequence = loss_weight_sequence
        self.loss_weight_completion_sequence = loss_weight_completion_sequence
        self.use_refine = use_refine
        self.refine_hidden_size = refine_hidden_size
        self.initializer_range = initializer_range
        self.downsample = downsample
        self.input_normalization = input_normalization
        self.fps = fps
        super().__init__(**kwargs)
        # ``AutoModel`` picks the class among MPM's registered ones by ``architectures`` and cannot iterate None
        # (transformers 5.24 ``_get_model_class``); no architecture is an empty list, which picks the base model
        if self.architectures is None:
            self.architectures = []
        self.validate_mpm()

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path, **kwargs):
        """As in ``PretrainedConfig``, but a missing ``config.json`` or another model's config is an error
        (``transformers`` 5 would silently build a default config, or only warn)."""
        config_dict, kwargs = super().get_config_dict(pretrained_model_name_or_path, **kwargs)
        if not config_dict:
            raise OSError(
                f"{pretrained_model_name_or_path}: no config.json (expected an MPM checkpoint saved with "
                "save_pretrained)"
            )
        model_type = config_dict.get("model_type")
        if model_type != cls.model_type:
            raise ValueError(
                f"{pretrained_model_name_or_path}: config.json has model_type {model_type!r}, expected "
                f"{cls.model_type!r} (an MPM checkpoint)"
            )
        return config_dict, kwargs

    @classmethod
    def from_dict(cls, config_dict, **kwargs):
        """As in ``PretrainedConfig``; the overrides it sets after ``__init__`` are checked too."""
        loaded = super().from_dict(config_dict, **kwargs)
        config = loaded[0] if isinstance(loaded, tuple) else loaded
        config.validate_mpm()
        return loaded

    @property
    def custom_pipelines(self) -> dict[str, dict[str, Any]]:
        """The pipelines the model folder declares, ``{task: {"impl": "pipeline_mpm.<class>", "pt": ["AutoModel"]}}``
        (written by ``save_pretrained`` of a lifting or completion head; saved in ``config.json`` as they are).

        ``transformers.pipeline(task, model=folder, trust_remote_code=True)`` reads them, so the folder's pipeline
        works where ``mpm_hf`` was not imported. ``transformers`` prefers declared pipelines to registered tasks and
        then insists on ``trust_remote_code``: a task already registered in this process (``import mpm_hf``
        registers both) is left out here, and ``pipeline("pose-lifting", model=folder)`` keeps using the registered
        pipeline, the same code. Returned as a copy: ``pipeline()`` edits what it reads.
        """
        from transformers.pipelines import PIPELINE_REGISTRY

        declared = self.__dict__.get("custom_pipelines") or {}
        registered = PIPELINE_REGISTRY.supported_tasks
        return {task: copy.deepcopy(info) for task, info in declared.items() if task not in registered}

    @custom_pipelines.setter
    def custom_pipelines(self, value: dict[str, dict[str, Any]]) -> None:
        self.__dict__["custom_pipelines"] = value

    @custom_pipelines.deleter
    def custom_pipelines(self) -> None:
        self.__dict__.pop("custom_pipelines", None)

    @property
    def num_masked_frames(self) -> int:
        """Frames dropped from the encoder by temporal masking (at least one frame stays visible)."""
        if self.mask_strategy == "spatial":
            return 0
        return min(int(round(self.temporal_mask_ratio * self.num_frames)), self.num_frames - 1)

    @property
    def num_spatially_masked_joints(self) -> int:
        return 0 if self.mask_strategy == "temporal" else self.spatial_mask_num_joints

    def validate_mpm(self) -> None:
        """Raise ``ValueError`` naming the field, the expected and the actual value."""

        def check(ok: bool, field: str, expected: str) -> None:
            if not ok:
                raise ValueError(f"MPMConfig.{field}: expected {expected}, got {getattr(self, field)!r}")

        def number(field: str) -> bool:  # a real number, so that comparing it cannot raise TypeError
            value = getattr(self, field)
            return isinstance(value, (int, float)) and not isinstance(value, bool)

        check(type(self.num_joints) is int and self.num_joints in (16, 17), "num_joints", "16 or 17")
        check(isinstance(self.num_frames, int) and self.num_frames >= 1 and self.num_frames % 2 == 1,
              "num_frames", "an odd positive integer (27, 81, 243, ...)")
        for field in ("hidden_size", "spatial_hidden_size", "intermediate_size", "num_attention_heads",
                      "refine_hidden_size"):
            check(isinstance(getattr(self, field), int) and getattr(self, field) > 0, field, "a positive integer")
        check(self.hidden_size % self.num_attention_heads == 0, "hidden_size",
              f"a multiple of num_attention_heads={self.num_attention_heads}")
        check(isinstance(self.num_hidden_layers, int) and self.num_hidden_layers >= 1, "num_hidden_layers", ">= 1")
        check(isinstance(self.num_decoder_layers, int) and self.num_decoder_layers >= 1, "num_decoder_layers",
              ">= 1")
        check(all(isinstance(s, int) and s >= 1 for s in self.strides), "strides", "a list of positive integers")
        check(strided_lengths(self.num_frames, self.strides)[-1] == 1, "strides",
              f"a schedule that reduces num_frames={self.num_frames} to 1 frame "
              f"(lengths {strided_lengths(self.num_frames, self.strides)}), e.g. {default_strides(self.num_frames)}")
        for field in ("spatial_dropout", "hidden_dropout", "attention_dropout"):
            check(number(field) and 0.0 <= getattr(self, field) < 1.0, field, "a probability in [0, 1)")
        check(isinstance(self.downsample, int) and self.downsample >= 1, "downsample", "a positive integer")
        check(number("layer_norm_eps") and 0 < self.layer_norm_eps < float("inf"), "layer_norm_eps", "> 0")
        check(isinstance(self.batch_norm_momentum, (int, float)) and 0 < self.batch_norm_momentum <= 1,
              "batch_norm_momentum", "a number in (0, 1]")
        check(number("leaky_relu_slope") and 0 <= self.leaky_relu_slope < float("inf"), "leaky_relu_slope",
              "a finite number >= 0")
        check(number("initializer_range") and 0 < self.initializer_range < float("inf"), "initializer_range",
              "a finite number > 0")
        check(self.fps is None or (isinstance(self.fps, (int, float)) and not isinstance(self.fps, bool)
                                   and 0 < self.fps < float("inf")), "fps", "None or a positive number")
        check(self.input_normalization in INPUT_NORMALIZATIONS, "input_normalization",
              f"one of {INPUT_NORMALIZATIONS}")
        check(self.mask_strategy in MASK_STRATEGIES, "mask_strategy", f"one of {MASK_STRATEGIES}")
        check(isinstance(self.spatial_mask_num_joints, int)
              and 0 <= self.spatial_mask_num_joints < self.num_joints,
              "spatial_mask_num_joints", f"an integer in [0, num_joints={self.num_joints})")
        check(number("temporal_mask_ratio") and 0.0 <= self.temporal_mask_ratio < 1.0, "temporal_mask_ratio",
              "a ratio in [0, 1)")
        for field in ("loss_weight_2d", "loss_weight_3d", "loss_weight_lift", "loss_weight_centre",
                      "loss_weight_sequence", "loss_weight_completion_sequence"):
            check(number(field) and 0 <= getattr(self, field) < float("inf"), field, "a finite number >= 0")
