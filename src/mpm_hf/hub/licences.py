"""The training corpora a card can name, their licences, and the card's training-data and licence sections.

Dataset ids are the Hub's lower-case names (``human3.6m``, ``mpi-inf-3dhp``, ``amass``); the short forms used on
the command line (``h36m``, ``3dhp``) are accepted and mapped to them. A corpus that is not known here is listed by
its id and points to its own terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DATASET_ALIASES",
    "DEFAULT_LICENSE_NAME",
    "KNOWN_DATASETS",
    "dataset_id",
    "dataset_name",
    "licence_section",
    "training_data_section",
]

DEFAULT_LICENSE_NAME = "academic-non-commercial"
"""The ``license_name`` of weights released as ``license: other`` (their training data are non-commercial)."""


@dataclass(frozen=True)
class KnownDataset:
    name: str
    url: str
    content: str
    licence: str


KNOWN_DATASETS = {
    "human3.6m": KnownDataset(
        "Human3.6M",
        "http://vision.imar.ro/human3.6m/",
        "indoor motion-capture studio, 4 calibrated cameras, 11 actors (7 with public 3D ground truth), 15 actions",
        "academic, non-commercial use only (Human3.6M licence agreement)",
    ),
    "mpi-inf-3dhp": KnownDataset(
        "MPI-INF-3DHP",
        "https://vcai.mpi-inf.mpg.de/3dhp-dataset/",
        "8 actors filmed by 14 cameras in a green-screen studio; test set of 6 sequences, some outdoors",
        "non-commercial research use only (MPI-INF-3DHP licence)",
    ),
    "amass": KnownDataset(
        "AMASS",
        "https://amass.is.tue.mpg.de/",
        "optical motion-capture datasets unified as SMPL-family body models; 3D only (masked 3D pose modeling)",
        "non-commercial scientific research only (AMASS licence and those of the datasets it unifies)",
    ),
}
DATASET_ALIASES = {"h36m": "human3.6m", "human36m": "human3.6m", "3dhp": "mpi-inf-3dhp", "mpi_inf_3dhp": "mpi-inf-3dhp"}


def dataset_id(name: str) -> str:
    """The Hub id of a corpus name (``"H36M"`` -> ``"human3.6m"``); unknown names are lower-cased and kept."""
    key = str(name).strip().lower()
    return DATASET_ALIASES.get(key, key)


def dataset_name(dataset_id: str) -> str:
    """The display name of a corpus id (``"human3.6m"`` -> ``"Human3.6M"``); unknown ids are returned as given."""
    known = KNOWN_DATASETS.get(dataset_id)
    return known.name if known else dataset_id


def training_data_section(dataset_ids: Sequence[str]) -> str:
    """The "Training data" section: a table of the corpora with their content and licence."""
    if not dataset_ids:
        return "Not recorded with this checkpoint."
    lines = ["| Dataset | Content | Licence |", "|---|---|---|"]
    for dataset_id in dataset_ids:
        known = KNOWN_DATASETS.get(dataset_id)
        if known is None:
            lines.append(f"| {dataset_id} | - | see the dataset's own terms |")
        else:
            lines.append(f"| [{known.name}]({known.url}) | {known.content} | {known.licence} |")
    lines.append("")
    lines.append("mpm-hf does not redistribute any of these datasets; each is obtained from its authors under its "
                 "own licence.")
    return "\n".join(lines)


def licence_section(license: str, license_name: str | None, dataset_ids: Sequence[str]) -> str:
    """The "Licence" section: the weights' licence (``license`` is a Hub licence id) and the code's."""
    names = ", ".join(dataset_name(d) for d in dataset_ids) or "the data listed above"
    if license == "other":
        weights = (f"The weights are released as `other` (`{license_name or DEFAULT_LICENSE_NAME}`): they were "
                   f"trained on {names}, whose licences allow non-commercial research use only, and the same "
                   "restriction applies to them.")
    else:
        weights = (f"The weights are released under `{license}`; check that the licences of their training data "
                   f"({names}) allow your use.")
    return f"{weights} The mpm-hf code, including the modeling files stored here, is Apache-2.0."
