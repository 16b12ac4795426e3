"""Training windows: counts, centring, edge padding, tds, flipping, batched fetching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mpm_hf.data.windows import Keypoint2DNoise, MixedPoseWindows, PoseWindows, collate_windows
from mpm_hf.keypoints import H36M_17, flip_poses

LENGTHS = (7, 1, 12)


def _sequences(lengths=LENGTHS, joints: int = 17):
    """Sequences whose values encode (sequence, frame) so gathered windows can be checked exactly."""
    kp2d, p3d = [], []
    for s, n in enumerate(lengths):
        frames = np.arange(n, dtype=np.float32)[:, None, None]
        joint_ids = np.arange(joints, dtype=np.float32)[None, :, None]
        kp2d.append(
            np.concatenate(
                [
                    np.broadcast_to(frames + 100 * s, (n, joints, 1)),
                    np.broadcast_to(joint_ids, (n, joints, 1)),
                ],
                -1,
            )
        )
        p3d.append(np.concatenate([kp2d[-1], np.full((n, joints, 1), s, np.float32)], -1))
    return kp2d, p3d


def test_window_count_and_centre_frames():
    kp2d, p3d = _sequences()
    ds = PoseWindows(kp2d, p3d, num_frames=5)
    assert len(ds) == sum(LENGTHS)
    batch = ds.__getitems__(list(range(len(ds))))
    expected_sequence = np.repeat(np.arange(3), LENGTHS)
    expected_frame = np.concatenate([np.arange(n) for n in LENGTHS])
    np.testing.assert_array_equal(batch["sequence_index"].numpy(), expected_sequence)
    np.testing.assert_array_equal(batch["centre_frame"].numpy(), expected_frame)
    # The centre frame of window i is source frame i.
    centre = batch["keypoints_2d"][:, 2, 0, 0].numpy()
    np.testing.assert_array_equal(centre, expected_frame + 100 * expected_sequence)
    assert batch["keypoints_2d"].shape == (sum(LENGTHS), 5, 17, 2)
    assert batch["poses_3d"].shape == (sum(LENGTHS), 5, 17, 3)
    assert batch["valid"].shape == (sum(LENGTHS), 5, 17) and batch["valid"].all()
    assert batch["keypoints_2d"].dtype == torch.float32 and not batch["flipped"].any()


def test_edge_replication_and_downsample_span():
    kp2d, _ = _sequences()
    ds = PoseWindows(keypoints_2d=kp2d, num_frames=5, downsample=3)
    # Sequence 2 (12 frames) starts at global window 8; its frame 0 and frame 11 windows.
    first, last = ds[8]["keypoints_2d"][:, 0, 0].numpy() - 200, ds[19]["keypoints_2d"][:, 0, 0].numpy() - 200
    np.testing.assert_array_equal(first, [0, 0, 0, 3, 6])
    np.testing.assert_array_equal(last, [5, 8, 11, 11, 11])
    middle = ds[8 + 6]["keypoints_2d"][:, 0, 0].numpy() - 200
    np.testing.assert_array_equal(
        middle, [0, 3, 6, 9, 12 - 1]
    )  # spans (T-1)*tds+1 = 13 frames, clipped at 11
    # A one-frame sequence is that frame repeated.
    np.testing.assert_array_equal(ds[7]["keypoints_2d"][:, 0, 0].numpy(), [100] * 5)


def test_stride_keeps_every_stride_th_centre():
    kp2d, _ = _sequences()
    ds = PoseWindows(keypoints_2d=kp2d, num_frames=3, stride=4)
    assert len(ds) == 2 + 1 + 3
    batch = ds.__getitems__(list(range(len(ds))))
    np.testing.assert_array_equal(batch["centre_frame"].numpy(), [0, 4, 0, 0, 4, 8])


def test_flip_augment_doubles_and_mirrors():
    kp2d, p3d = _sequences()
    valid = [np.random.default_rng(s).random((n, 17)) > 0.3 for s, n in enumerate(LENGTHS)]
    ds = PoseWindows(kp2d, p3d, valid=valid, num_frames=3, flip_augment=True)
    n = sum(LENGTHS)
    assert len(ds) == 2 * n
    plain, mirrored = ds[4], ds[n + 4]
    assert mirrored["flipped"] and not plain["flipped"]
    assert mirrored["centre_frame"] == plain["centre_frame"]
    torch.testing.assert_close(mirrored["keypoints_2d"], flip_poses(plain["keypoints_2d"]))
    torch.testing.assert_close(mirrored["poses_3d"], flip_poses(plain["poses_3d"]))
    perm = list(H36M_17.flip_permutation)
    assert torch.equal(mirrored["valid"], plain["valid"][:, perm])
    assert torch.equal(ds[-1]["centre_frame"], ds[2 * n - 1]["centre_frame"])
    with pytest.raises(IndexError):
        ds[2 * n]


def test_getitems_equals_stacked_getitem_and_dataloader():
    kp2d, p3d = _sequences()
    ds = PoseWindows(kp2d, p3d, num_frames=5, downsample=2, flip_augment=True)
    indices = [0, 25, 3, 19, 7, 38, 12]
    batch = ds.__getitems__(indices)
    stacked = collate_windows([ds[i] for i in indices])
    assert batch.keys() == stacked.keys()
    for key in batch:
        assert torch.equal(batch[key], stacked[key]), key
    loader = DataLoader(ds, batch_size=16, shuffle=False, collate_fn=collate_windows)
    batches = list(loader)
    assert [len(b["flipped"]) for b in batches] == [16, 16, 8]
    assert torch.equal(batches[1]["keypoints_2d"], ds.__getitems__(list(range(16, 32)))["keypoints_2d"])


def test_data_is_held_once_and_windows_are_integers():
    kp2d, p3d = _sequences()
    ds = PoseWindows(kp2d, p3d, num_frames=243, flip_augment=True)
    assert set(ds.arrays) == {"keypoints_2d", "poses_3d", "valid"}
    assert ds.arrays["keypoints_2d"].shape == (sum(LENGTHS), 17, 2)
    assert ds.arrays["poses_3d"].shape == (sum(LENGTHS), 17, 3)
    assert all(a.flags["C_CONTIGUOUS"] for a in ds.arrays.values())
    assert ds.window_centres.shape == (sum(LENGTHS),) and ds.window_centres.dtype == np.int64
    stored = sum(a.nbytes for a in ds.arrays.values()) + ds.window_centres.nbytes
    assert stored < 2 * (sum(a.nbytes for a in kp2d) + sum(a.nbytes for a in p3d))
    # Fetched windows are fresh copies: changing them leaves the dataset intact.
    before = ds.arrays["keypoints_2d"].copy()
    ds[3]["keypoints_2d"].add_(1.0)
    ds[sum(LENGTHS) + 3]["keypoints_2d"].add_(1.0)
    np.testing.assert_array_equal(ds.arrays["keypoints_2d"], before)


def test_single_modality_and_default_validity():
    kp2d, p3d = _sequences()
    kp2d[0][2, 5] = np.nan
    only2d = PoseWindows(keypoints_2d=kp2d, num_frames=3)
    assert "poses_3d" not in only2d[0] and not only2d[2]["valid"][1, 5]
    only3d = PoseWindows(poses_3d=p3d, num_frames=3)
    assert "keypoints_2d" not in only3d[0] and only3d[0]["poses_3d"].shape == (3, 17, 3)


def test_constructor_errors():
    kp2d, p3d = _sequences()
    with pytest.raises(ValueError, match="odd"):
        PoseWindows(kp2d, num_frames=4)
    with pytest.raises(ValueError, match="frame counts differ"):
        PoseWindows(kp2d, p3d[::-1])
    with pytest.raises(ValueError, match="joints"):
        PoseWindows(keypoints_2d=[np.zeros((5, 16, 2), np.float32)])
    with pytest.raises(ValueError, match=r"shape \(N, J, 2\)"):
        PoseWindows(keypoints_2d=[np.zeros((5, 17, 3), np.float32)])


def test_from_sequences():
    kp2d, p3d = _sequences()
    sequences = [
        {"keypoints_2d": a, "poses_3d": b, "valid": np.ones(a.shape[:2], bool)}
        for a, b in zip(kp2d, p3d, strict=True)
    ]
    ds = PoseWindows.from_sequences(sequences, num_frames=3)
    assert len(ds) == sum(LENGTHS) and ds.keys == ("keypoints_2d", "poses_3d")


def test_mixed_windows_map_indices_to_their_dataset():
    kp2d, p3d = _sequences()
    a = PoseWindows(kp2d, p3d, num_frames=3)
    b = PoseWindows(kp2d[:1], p3d[:1], num_frames=3, flip_augment=True)
    mixed = MixedPoseWindows([a, b])
    assert len(mixed) == len(a) + len(b)
    indices = [len(a) + 3, 0, len(a) + 9, 5, len(a) - 1]
    batch = mixed.__getitems__(indices)
    np.testing.assert_array_equal(batch["dataset_index"].numpy(), [1, 0, 1, 0, 0])
    expected = [b[3], a[0], b[9], a[5], a[len(a) - 1]]
    for key in ("keypoints_2d", "poses_3d", "valid", "flipped", "centre_frame", "sequence_index"):
        assert torch.equal(batch[key], torch.stack([e[key] for e in expected])), key
    assert torch.equal(mixed[len(a) + 9]["poses_3d"], b[9]["poses_3d"])
    with pytest.raises(ValueError, match="num_frames"):
        MixedPoseWindows([a, PoseWindows(kp2d, p3d, num_frames=5)])


def test_keypoint_noise_is_vectorised_and_reproducible():
    kp2d, p3d = _sequences()
    ds = PoseWindows(kp2d, p3d, num_frames=5)
    batch = ds.__getitems__(list(range(len(ds))))
    noisy = Keypoint2DNoise(std=0.01, dropout_prob=0.2, generator=torch.Generator().manual_seed(0))(batch)
    again = Keypoint2DNoise(std=0.01, dropout_prob=0.2, generator=torch.Generator().manual_seed(0))(batch)
    assert torch.equal(noisy["valid"], again["valid"])
    dropped = ~noisy["valid"]
    assert 0.1 < dropped.float().mean() < 0.3
    assert torch.isnan(noisy["keypoints_2d"][dropped]).all()
    kept = noisy["valid"]
    residual = noisy["keypoints_2d"][kept] - batch["keypoints_2d"][kept]
    assert 0.005 < residual.std() < 0.015
    assert torch.equal(noisy["poses_3d"], batch["poses_3d"])
    assert batch["valid"].all()  # the input batch is unchanged
    # As a dataset transform.
    ds.transform = Keypoint2DNoise(dropout_prob=1.0)
    assert not ds[0]["valid"].any()


@pytest.mark.shared_data
def test_window_counts_equal_frame_counts_on_s9(shared_data_dir):
    from mpm_hf.data.h36m import load_h36m_arrays

    sequences = load_h36m_arrays(shared_data_dir / "h36m", subjects=("S9",), keypoints="sh_pt_mpii")
    ds = PoseWindows.from_sequences(sequences, num_frames=243, downsample=2, flip_augment=True)
    frames = sum(len(s["keypoints_2d"]) for s in sequences)
    assert ds.num_windows == frames and len(ds) == 2 * frames
    batch = collate_windows(ds.__getitems__(list(range(0, len(ds), len(ds) // 1024))[:1024]))
    assert batch["keypoints_2d"].shape == (1024, 243, 17, 2)
    assert not batch["valid"][..., 9].any() and batch["valid"][..., :9].all()
