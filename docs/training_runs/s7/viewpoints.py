"""S9 seen from viewpoints Human3.6M's cameras never take: what the virtual-camera augmentation buys.

    python docs/training_runs/s7/viewpoints.py OUT.json MODEL [MODEL ...]   (from the repository root)

Human3.6M's four cameras look at the subjects from about 1.5 m high, a few degrees downwards. Here S9's 3D
(world coordinates, Walking and Sitting, every 3rd sequence of the 4 cameras x actions list, first 600 frames,
as the invariance test) is seen through pinhole cameras 5 m from the sequence's mean pelvis at elevations 0, 30
and 60 degrees (looking down at the subject), at 8 azimuths each, focal 1145 px on a 1000 x 1000 canvas, and lifted
through the pose-lifting pipeline. MPJPE (mm, root-relative, camera coordinates) per elevation, averaged over
azimuths and sequences.
"""
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from mpm_hf import MPMForPoseLifting
from mpm_hf.camera import load_h36m_cameras
from mpm_hf.data.h36m import load_h36m_arrays
from mpm_hf.metrics import mpjpe
from mpm_hf.pipelines import MPMPoseLiftingPipeline

warnings.filterwarnings("ignore")
ELEVATIONS = (0, 30, 60)
AZIMUTHS = np.arange(8) * 45.0
FOCAL, SIZE, DISTANCE = 1145.0, 1000, 5.0


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World -> camera rotation (rows: x right, y down, z forward) of a camera at ``eye`` looking at ``target``
    with the world's z axis up."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def world_sequences() -> list[np.ndarray]:
    """World 3D of the invariance test's sequences, ``(frames, 17, 3)`` metres: the camera coordinates mapped back."""
    sequences = load_h36m_arrays(Path("../shared/data/h36m"), subjects=["S9"], actions=["Walking", "Sitting"])[::3]
    cameras = {c.id: c for c in load_h36m_cameras(Path("../shared/data/h36m/h36m_cameras.json"))["S9"]}
    worlds = []
    for sequence in sequences:
        camera = cameras[sequence["camera"]]
        points = sequence["poses_3d"][:600] + sequence["root_trajectory"][:600, None]
        worlds.append(camera.camera_to_world(points.astype(np.float64)))
    return worlds


def main() -> None:
    worlds = world_sequences()
    table = {}
    for path in sys.argv[2:]:
        pipe = MPMPoseLiftingPipeline(model=MPMForPoseLifting.from_pretrained(path).eval(), device="cpu")
        errors = {}
        for world in worlds:
            target = world[:, 0].mean(axis=0)
            for elevation in ELEVATIONS:
                for azimuth in AZIMUTHS:
                    e, a = np.radians(elevation), np.radians(azimuth)
                    eye = target + DISTANCE * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
                    rotation = look_at(eye, target)
                    camera = (world - eye) @ rotation.T
                    pixels = FOCAL * camera[..., :2] / camera[..., 2:] + SIZE / 2
                    predicted = pipe(pixels, image_size=(SIZE, SIZE))["poses_3d"]
                    truth = camera - camera[:, :1]
                    errors.setdefault(f"{elevation} deg", []).append(1000 * float(mpjpe(predicted, truth)))
        table[path] = {name: round(float(np.mean(values)), 1) for name, values in errors.items()}
        print(path, table[path], flush=True)
    Path(sys.argv[1]).write_text(json.dumps({"mpjpe_mm_by_elevation": table, "azimuths": AZIMUTHS.tolist(),
                                             "distance_m": DISTANCE, "focal_px": FOCAL}, indent=2) + "\n")


if __name__ == "__main__":
    main()
