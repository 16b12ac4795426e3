"""Grow a trained MPM model into a larger one that computes exactly the same function (Net2Net-style growth).

Training a larger model from scratch costs many epochs; growing a trained one keeps what it learned and adds
capacity that further training can use:

- wider FFNs (``intermediate_size``) and a wider spatial MLP (``spatial_hidden_size``): every trained weight is
  copied into the leading slice of its larger tensor, the new channels get the model's own initialisation, and
  the weights from new channels into old ones are zero, so the old channels compute what they computed before;
- a deeper shared temporal transformer (``num_hidden_layers``): new pre-norm layers appended after the trained
  ones, with their output projections (attention ``out_proj``, FFN ``fc2``) zero, so that each starts as the
  identity.

The width of the token stream (``hidden_size``) and the head count stay: LayerNorm over a wider stream would change
every normalised value.
"""

from __future__ import annotations

import torch

from ..modeling_mpm import MPMPreTrainedModel

#: config fields ``grow_model`` may enlarge
GROWABLE_FIELDS = ("num_hidden_layers", "intermediate_size", "spatial_hidden_size")


def grow_state_dict(trained: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``fresh`` (a newly initialised larger model's state) with ``trained`` copied into the leading slice of every
    tensor the two share, and the weights from new input channels into trained output channels set to zero.

    Linear weights are ``(out, in)``; where a Linear stands for a temporal ``Conv1d`` (the strided FFN's
    ``(C, H * 3)``), its inputs are channel-major, so new input channels are the trailing columns there too.
    Tensors only in ``fresh`` keep their initialisation. Raises ``ValueError`` for a tensor that would shrink.
    """
    grown = {}
    for name, tensor in fresh.items():
        tensor = tensor.clone()
        if name in trained:
            source = trained[name]
            if source.dim() != tensor.dim() or any(s > t for s, t in zip(source.shape, tensor.shape, strict=True)):
                raise ValueError(f"{name}: expected a tensor of at most {tuple(tensor.shape)} to grow from, "
                                 f"got {tuple(source.shape)}")
            tensor[tuple(slice(0, size) for size in source.shape)] = source
            if tensor.dim() == 2 and tensor.shape[1] > source.shape[1]:
                tensor[: source.shape[0], source.shape[1]:] = 0
        grown[name] = tensor
    return grown


def grow_model(model: MPMPreTrainedModel, seed: int = 0, **sizes: int) -> MPMPreTrainedModel:
    """A larger model of ``model``'s class that computes the same function (eval mode), its new weights drawn with
    ``seed``. ``sizes``: new values of ``GROWABLE_FIELDS``, each at least the current one.

    Example: ``grow_model(model, num_hidden_layers=5, intermediate_size=512, spatial_hidden_size=512)``.
    """
    unknown = sorted(set(sizes) - set(GROWABLE_FIELDS))
    if unknown:
        raise ValueError(f"sizes: expected fields among {GROWABLE_FIELDS}, got {unknown}")
    config = model.config.__class__.from_dict(model.config.to_dict())
    for field, value in sizes.items():
        current = getattr(config, field)
        if not isinstance(value, int) or value < current:
            raise ValueError(f"{field}: expected an integer of at least the current {current}, got {value!r}")
        setattr(config, field, value)

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        grown = model.__class__(config)
    finally:
        torch.random.set_rng_state(generator_state)
    grown.load_state_dict(grow_state_dict(model.state_dict(), grown.state_dict()))
    with torch.no_grad():  # the appended layers start as the identity
        for layer in grown.base_model.temporal_transformer.layers[model.config.num_hidden_layers:]:
            for projection in (layer.attention.out_proj, layer.feed_forward.fc2):
                projection.weight.zero_()
                projection.bias.zero_()
    return grown.train(model.training)
