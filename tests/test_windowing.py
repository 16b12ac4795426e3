"""The windowing module: centred windows, fast-mode tilings and stitching, against loops written here."""

import numpy as np
import pytest
import torch

from mpm_hf.data.windows import PoseWindows
from mpm_hf.windowing import batch_slices, centred_windows, run_windows, stitch, tile_sequence, window_offsets


def naive_centred(num_frames: int, window: int, step: int, centre: int) -> list[int]:
    return [min(max(centre + (k - window // 2) * step, 0), num_frames - 1) for k in range(window)]


@pytest.mark.parametrize("num_frames, window, step", [(40, 9, 2), (5, 27, 2), (100, 27, 1), (1, 3, 3)])
def test_centred_windows_match_a_loop(num_frames, window, step):
    index = centred_windows(num_frames, window, step)
    assert index.shape == (num_frames, window)
    for centre in range(num_frames):
        assert index[centre].tolist() == naive_centred(num_frames, window, step, centre)


def test_centred_windows_of_concatenated_sequences_stay_inside_their_sequence():
    # two sequences of 10 and 6 frames stored back to back: centres 9 (last of the first) and 12 (third of the second)
    index = centred_windows(np.array([10, 6]), 5, 2, centres=np.array([9, 12]), first=np.array([0, 10]))
    assert index.tolist() == [[5, 7, 9, 9, 9], [10, 10, 12, 14, 15]]


@pytest.mark.parametrize("num_frames", [1, 7, 26, 27, 28, 100, 243])
@pytest.mark.parametrize("step", [1, 2, 3])
@pytest.mark.parametrize("margin", [0, 4, 13])
def test_tiling_owns_every_frame_once_at_the_model_spacing(num_frames, step, margin):
    window = 27
    tiling = tile_sequence(num_frames, window, step, margin)
    owner = tiling.index[tiling.owned_rows, tiling.owned_positions]
    np.testing.assert_array_equal(owner, np.arange(num_frames))  # each frame predicted where it sits in the window
    pairs = set(zip(tiling.owned_rows.tolist(), tiling.owned_positions.tolist(), strict=True))
    assert len(pairs) == num_frames  # no two frames share a prediction
    assert np.all((tiling.owned_positions >= margin) & (tiling.owned_positions < window - margin))
    # every window reads frames `step` apart around the frames it owns, edge padded like the per-frame protocol
    first_owner = np.unique(tiling.owned_rows, return_index=True)[1]
    frame, position = np.arange(num_frames)[first_owner], tiling.owned_positions[first_owner]
    expected = np.clip(frame[:, None] + (np.arange(window)[None, :] - position[:, None]) * step, 0, num_frames - 1)
    np.testing.assert_array_equal(tiling.index[tiling.owned_rows[first_owner]], expected)
    assert tiling.num_windows == sum(-(-len(range(r, num_frames, step)) // (window - 2 * margin))
                                     for r in range(min(step, num_frames)))


def test_tiling_with_the_largest_margin_is_the_per_frame_protocol():
    tiling = tile_sequence(50, 9, 2, margin=4)
    per_frame = centred_windows(50, 9, 2)
    np.testing.assert_array_equal(tiling.index[tiling.owned_rows], per_frame)
    assert np.all(tiling.owned_positions == 4)


def test_stitch_puts_owned_predictions_back_in_frame_order():
    tiling = tile_sequence(61, 27, 2, margin=4)
    predictions = torch.from_numpy(tiling.index.astype(np.float32))[..., None]  # each position predicts its frame
    np.testing.assert_array_equal(stitch(predictions, tiling)[:, 0].numpy(), np.arange(61))
    np.testing.assert_array_equal(stitch(tiling.index, tiling), np.arange(61))
    with pytest.raises(ValueError, match="leading shape"):
        stitch(predictions[:-1], tiling)


def test_run_windows_is_independent_of_the_batch_size():
    sequence = torch.randn(30, 17, 2)
    hidden = torch.rand(30, 17) < 0.2
    index = centred_windows(30, 9, 2)

    def predict(windows, masks):
        return windows.sum(dim=(2, 3)) + masks.sum(dim=2)

    done = []
    one = run_windows(predict, sequence, hidden, index, 1, torch.device("cpu"), torch.float32, done.append)
    many = run_windows(predict, sequence, hidden, index, 64, torch.device("cpu"), torch.float32)
    torch.testing.assert_close(one, many)
    assert sum(done) == 30 and len(done) == 30


def test_training_windows_are_cut_by_the_same_function():
    sequences = [np.random.default_rng(i).normal(size=(n, 17, 2)).astype(np.float32) for i, n in enumerate((12, 7))]
    windows = PoseWindows(keypoints_2d=sequences, num_frames=5, downsample=3)
    frames, sequence, _ = windows.frame_indices(np.arange(19))
    for row, (seq, centre) in enumerate(zip(sequence, np.r_[np.arange(12), np.arange(7)], strict=True)):
        start = 0 if seq == 0 else 12
        assert frames[row].tolist() == [start + f for f in naive_centred((12, 7)[seq], 5, 3, centre)]


@pytest.mark.parametrize("call, message", [
    (lambda: window_offsets(4), "odd"),
    (lambda: window_offsets(27, 0), "step"),
    (lambda: tile_sequence(10, 27, 2, margin=14), "margin"),
    (lambda: tile_sequence(0, 27), "at least one frame"),
    (lambda: list(batch_slices(10, 0)), "batch_size"),
])
def test_bad_arguments_are_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
