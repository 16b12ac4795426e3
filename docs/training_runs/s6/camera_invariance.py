"""S9 3D seen through other cameras (the invariance test's variants), MPJPE in mm per variant, as a JSON table.

usage: python camera_invariance.py MODEL_FOLDER OUT.json   (run from the repository root)
Same sequences, frames and variants as tests/test_camera_invariance.py::test_default_model_on_s9_through_other_cameras.
"""
import json
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path.cwd()))
from mpm_hf import MPMForPoseLifting  # noqa: E402
from mpm_hf.data.h36m import load_h36m_arrays  # noqa: E402
from mpm_hf.metrics import mpjpe  # noqa: E402
from mpm_hf.pipelines import MPMPoseLiftingPipeline  # noqa: E402
from tests.test_camera_invariance import VARIANTS, pinhole  # noqa: E402

warnings.filterwarnings("ignore")
model = MPMForPoseLifting.from_pretrained(sys.argv[1]).eval()
pipe = MPMPoseLiftingPipeline(model=model, device="cpu")
sequences = load_h36m_arrays(Path("../shared/data/h36m"), subjects=["S9"], actions=["Walking", "Sitting"])[::3]
errors = {}
for sequence in sequences:
    frames = slice(0, 600)
    points = sequence["poses_3d"][frames] + sequence["root_trajectory"][frames, None]
    width, height = sequence["image_width"], sequence["image_height"]
    fx, fy, cx, cy = sequence["camera_intrinsics"][:4] * (width / 2)
    centre = np.array([cx + width / 2, cy + height / 2])
    for name, scale, shift, canvas in [("original", 1.0, (0.0, 0.0), 1.0), *VARIANTS]:
        pixels = pinhole(points, np.array([fx, fy]) * scale, centre * canvas + np.array(shift))
        predicted = pipe(pixels, image_size=(int(width * canvas), int(height * canvas)))["poses_3d"]
        errors.setdefault(name, []).append(1000 * float(mpjpe(predicted, sequence["poses_3d"][frames])))
table = {name: round(float(np.mean(values)), 1) for name, values in errors.items()}
print(table)
Path(sys.argv[2]).write_text(json.dumps({"model": sys.argv[1], "mpjpe_mm": table}, indent=2) + "\n")
