"""The reference re-implementation of the released MPM design (benchmarks/reference_mpm.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from reference_mpm import (  # noqa: E402
    ReferenceMPMLift,
    ReferenceMPMPretrain,
    ReferenceRefine,
    released_key_shapes,
    released_uvd_to_xyz,
)

FULL = dict(layers=4, channel=256, d_hid=512, frames=243, n_joints=17)
TINY = dict(layers=2, channel=32, d_hid=64, frames=27, n_joints=17)
J = 17


def _released(section: str) -> dict[str, tuple[int, ...]]:
    try:
        return released_key_shapes(section)
    except FileNotFoundError as err:
        pytest.skip(str(err))


def _shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


@pytest.mark.parametrize(
    ("section", "build"),
    [
        ("stage2_Model", lambda: ReferenceMPMLift(**FULL)),
        ("stage1_MPMmask2", lambda: ReferenceMPMPretrain(**FULL)),
        ("refine", lambda: ReferenceRefine(n_joints=17)),
    ],
)
def test_state_dict_equals_released_keys(section, build):
    expected = _released(section)
    got = _shapes(build())
    assert list(got) == list(expected)  # same names, same order
    assert got == expected


def test_released_key_shapes_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        released_key_shapes("refine", tmp_path / "nowhere.txt")
    keys = tmp_path / "keys.txt"
    keys.write_text("## refine\npost_refine.0.weight (1024, 102)\nfcn.0.num_batches_tracked ()\n")
    assert released_key_shapes("refine", keys) == {
        "post_refine.0.weight": (1024, 102),
        "fcn.0.num_batches_tracked": (),
    }
    with pytest.raises(KeyError, match="stage2_Model"):
        released_key_shapes("stage2_Model", keys)


def _joint_mask(frames: int, per_frame: int, batch: int | None = None) -> torch.Tensor:
    shape = (frames, J) if batch is None else (batch, frames, J)
    idx = torch.rand(shape).argsort(-1)[..., :per_frame]
    return torch.zeros(shape, dtype=torch.bool).scatter_(-1, idx, True)


def _temporal_mask(frames: int, masked: list[int]) -> torch.Tensor:
    mask = torch.zeros(frames, dtype=torch.bool)
    mask[masked] = True
    return mask


def test_lift_forward_shapes():
    model = ReferenceMPMLift(**TINY, stride_num=[3, 3, 3]).eval()
    centre, sequence = model(torch.randn(2, 27, J, 2))
    assert centre.shape == (2, 1, J, 3)
    assert sequence.shape == (2, 27, J, 3)
    with pytest.raises(ValueError, match="expected input"):
        model(torch.randn(2, 26, J, 2))


def test_pretrain_forward_shapes():
    model = ReferenceMPMPretrain(**TINY, spatial_mask_num=5).eval()
    tmask = _temporal_mask(27, [0, 5, 6, 7, 20])
    x2, x3 = torch.randn(3, 27, J, 2), torch.randn(3, 27, J, 3)
    assert model(x2, _joint_mask(27, 5), tmask).shape == (3, 27, J, 2)
    assert model(x3, _joint_mask(27, 5, batch=3), tmask).shape == (3, 27, J, 3)
    poses_2d, poses_3d = model(x2, _joint_mask(27, 5), tmask, lift=True)
    assert poses_2d.shape == (3, 27, J, 2) and poses_3d.shape == (3, 27, J, 3)
    with pytest.raises(ValueError, match="spatial_mask_num"):
        model(x2, _joint_mask(27, 4), tmask)

    tube = ReferenceMPMPretrain(**TINY, tube_mask=True).eval()
    tube.load_state_dict(model.state_dict())
    shared = torch.zeros(J, dtype=torch.bool)
    shared[[1, 2, 3]] = True
    assert tube(x3, shared, tmask).shape == (3, 27, J, 3)
    assert tube(x2, torch.rand(3, J) < 0.3, None).shape == (3, 27, J, 2)


def test_spatial_mask_replaces_coordinates_by_token():
    model = ReferenceMPMPretrain(**TINY, tube_mask=True).eval()
    x = torch.randn(2, 27, J, 3)
    mask = torch.zeros(J, dtype=torch.bool)
    mask[[4, 9]] = True
    x_token = x.clone()
    x_token[:, :, [4, 9]] = model.spatial_mask_token3d.detach().view(3)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mask), model(x_token), rtol=0, atol=0)


def test_temporal_masking_restores_frame_order():
    model = ReferenceMPMPretrain(**TINY, spatial_mask_num=2).eval()
    masked = [0, 3, 4, 10, 26]
    tmask = _temporal_mask(27, masked)
    visible = [t for t in range(27) if t not in masked]
    captured = {}
    model.encoder_LN.register_forward_hook(lambda m, i, out: captured.update(encoded=out))
    model.decoder2d.register_forward_pre_hook(lambda m, args: captured.update(decoder_in=args[0]))
    with torch.no_grad():
        model(torch.randn(2, 27, J, 2), _joint_mask(27, 2), tmask)

    encoded, decoder_in = captured["encoded"], captured["decoder_in"]
    pos = model.dec_pos_embedding.detach()[0]
    assert encoded.shape == (2, len(visible), TINY["channel"])  # only visible frames are encoded
    assert decoder_in.shape == (2, 27, TINY["channel"])
    # Frame t of the decoder input: encoded visible frame k (+ pos t), or the mask token (+ pos t).
    torch.testing.assert_close(decoder_in[:, visible], encoded + pos[visible], rtol=0, atol=0)
    expected_masked = (model.temporal_mask_token.detach()[0] + pos[masked]).expand(2, -1, -1)
    torch.testing.assert_close(decoder_in[:, masked], expected_masked, rtol=0, atol=0)


def test_masked_frames_do_not_reach_the_encoder():
    model = ReferenceMPMPretrain(**TINY, spatial_mask_num=2).eval()
    tmask = _temporal_mask(27, [2, 8, 9, 15])
    smask = _joint_mask(27, 2)
    x = torch.randn(2, 27, J, 3)
    x_changed = x.clone()
    x_changed[:, tmask] = torch.randn_like(x_changed[:, tmask])
    with torch.no_grad():
        torch.testing.assert_close(model(x, smask, tmask), model(x_changed, smask, tmask), rtol=0, atol=0)


def test_eval_is_deterministic():
    x = torch.randn(2, 27, J, 2)
    lift = ReferenceMPMLift(**TINY, stride_num=[3, 3, 3]).eval()
    pretrain = ReferenceMPMPretrain(**TINY, spatial_mask_num=5).eval()
    smask, tmask = _joint_mask(27, 5), _temporal_mask(27, [1, 2, 3])
    with torch.no_grad():
        for a, b in zip(lift(x), lift(x), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(pretrain(x, smask, tmask), pretrain(x, smask, tmask), rtol=0, atol=0)


def test_seeded_initialisation_is_reproducible():
    torch.manual_seed(3)
    first = ReferenceMPMLift(**TINY, stride_num=[3, 3, 3]).state_dict()
    torch.manual_seed(3)
    second = ReferenceMPMLift(**TINY, stride_num=[3, 3, 3]).state_dict()
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=0, atol=0)
    # The release deep-copies one layer, so transformer layers start identical.
    layers = ReferenceMPMLift(**TINY, stride_num=[3, 3, 3]).shared_layers_temporal.model.layers
    torch.testing.assert_close(layers[0].self_attn.linears[0].weight, layers[1].self_attn.linears[3].weight)


def test_refine_blends_xy_and_keeps_depth():
    refine = ReferenceRefine(n_joints=J).eval()
    pred, back_projected = torch.randn(4, 1, J, 3), torch.randn(4, 1, J, 3)
    with torch.no_grad():
        out = refine(pred, back_projected)
        score = refine.post_refine(torch.cat((pred, back_projected), -1).view(4, -1)).view(4, 1, J, 2)
    assert out.shape == (4, 1, J, 3)
    torch.testing.assert_close(out[..., 2], pred[..., 2], rtol=0, atol=0)
    torch.testing.assert_close(out[..., :2], score * pred[..., :2] + (1 - score) * back_projected[..., :2])


def test_uvd_to_xyz_inverts_a_pinhole_projection():
    focal, centre = torch.tensor([2.29, 2.28]), torch.tensor([0.025, 0.03])
    xyz = torch.randn(3, 1, J, 3) * 0.3
    xyz[..., 2] += 5.0  # camera-space metres, in front of the camera
    uv = xyz[..., :2] / xyz[..., 2:] * focal + centre
    root = xyz[:, :, :1]
    uvd = torch.cat((uv, (xyz[..., 2:] - root[..., 2:])), -1)
    gt_3d = torch.cat((root, xyz[:, :, 1:] - root), dim=2)  # the loader: root absolute, others relative
    cam = torch.cat((focal, centre, torch.zeros(5))).expand(3, -1)
    torch.testing.assert_close(released_uvd_to_xyz(uvd, gt_3d, cam), xyz - root, rtol=1e-5, atol=1e-5)
