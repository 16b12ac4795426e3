"""Pack the Human3.6M training data into one small file for the device machine, and unpack it there.

The device tool carries at most 64 MiB of working tree (30 MB of which is this repository), and the VideoPose3D
files are 184 MB. Packed: the 17 used joints of the training subjects' 3D poses quantised to 0.5 mm, the
Stacked-Hourglass detections quantised to 0.5 px, each as int16 frame-to-frame differences compressed with lzma.
The quantisation errors (at most 0.25 mm and 0.25 px) are far below the detections' own error. Unpacking writes
``data_3d_h36m.npz`` (17-joint world poses, metres), ``data_2d_h36m_sh_pt_mpii.npz`` and the camera file in
VideoPose3D's layout, which ``mpm_hf.data.h36m`` reads as it reads the originals.

    python pack_h36m.py pack ../shared/data/h36m .devdata/h36m.pack.npz S1,S5,S6,S7,S8
    python pack_h36m.py unpack .devdata/h36m.pack.npz /tmp/h36m
"""

import json
import lzma
import sys
from pathlib import Path

import numpy as np

H36M_32_TO_17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
STEP_3D = 0.0005  # metres per unit
STEP_2D = 0.5  # pixels per unit


def _encode(arrays: list[np.ndarray], step: float) -> bytes:
    parts = []
    for array in arrays:
        units = np.round(array / step).astype(np.int64)
        delta = np.diff(units, axis=0, prepend=0)
        if np.abs(delta).max() > np.iinfo(np.int16).max:
            raise ValueError("a frame-to-frame difference does not fit int16")
        parts.append(delta.astype(np.int16).ravel())
    return lzma.compress(np.concatenate(parts).tobytes(), preset=6)


def _decode(blob: bytes, shapes: list[tuple[int, ...]], step: float) -> list[np.ndarray]:
    flat = np.frombuffer(lzma.decompress(blob), dtype=np.int16)
    out, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        delta = flat[start:start + size].reshape(shape).astype(np.int64)
        out.append((np.cumsum(delta, axis=0) * step).astype(np.float32))
        start += size
    return out


def pack(source: Path, target: Path, subjects: list[str]) -> None:
    positions_3d = np.load(source / "data_3d_h36m.npz", allow_pickle=True)["positions_3d"].item()
    detections = np.load(source / "data_2d_h36m_sh_pt_mpii.npz", allow_pickle=True)
    positions_2d, metadata = detections["positions_2d"].item(), detections["metadata"].item()
    index, arrays_3d, arrays_2d = [], [], []
    for subject in subjects:
        for action in sorted(positions_3d[subject]):
            world = positions_3d[subject][action][:, H36M_32_TO_17]
            views = positions_2d[subject][action]
            index.append({"subject": subject, "action": action, "shape_3d": world.shape,
                          "shapes_2d": [view.shape for view in views]})
            arrays_3d.append(world)
            arrays_2d.extend(views)
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez(target, index=json.dumps(index), metadata=json.dumps(metadata),
             cameras=(source / "h36m_cameras.json").read_text(),
             blob_3d=np.frombuffer(_encode(arrays_3d, STEP_3D), dtype=np.uint8),
             blob_2d=np.frombuffer(_encode(arrays_2d, STEP_2D), dtype=np.uint8))


def unpack(source: Path, target: Path) -> None:
    packed = np.load(source)
    index = json.loads(str(packed["index"]))
    worlds = _decode(packed["blob_3d"].tobytes(), [tuple(e["shape_3d"]) for e in index], STEP_3D)
    views = _decode(packed["blob_2d"].tobytes(), [tuple(s) for e in index for s in e["shapes_2d"]], STEP_2D)
    positions_3d, positions_2d, start = {}, {}, 0
    for entry, world in zip(index, worlds, strict=True):
        count = len(entry["shapes_2d"])
        positions_3d.setdefault(entry["subject"], {})[entry["action"]] = world
        positions_2d.setdefault(entry["subject"], {})[entry["action"]] = views[start:start + count]
        start += count
    target.mkdir(parents=True, exist_ok=True)
    np.savez(target / "data_3d_h36m.npz", positions_3d=positions_3d)
    np.savez(target / "data_2d_h36m_sh_pt_mpii.npz", positions_2d=positions_2d,
             metadata=json.loads(str(packed["metadata"])))
    (target / "h36m_cameras.json").write_text(str(packed["cameras"]))


if __name__ == "__main__":
    if sys.argv[1] == "pack":
        pack(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4].split(","))
    elif sys.argv[1] == "unpack":
        unpack(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(f"usage: {sys.argv[0]} pack SOURCE TARGET SUBJECTS | unpack SOURCE TARGET")
