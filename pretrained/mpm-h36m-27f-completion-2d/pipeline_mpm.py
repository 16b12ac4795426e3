"""The pipelines a saved MPM lifting or completion folder declares (``custom_pipelines`` in its ``config.json``).

``save_pretrained`` copies this file into the folder as ``pipeline_mpm.py`` (see ``mpm_hf.auto``), so that::

    from transformers import pipeline

    lifter = pipeline("pose-lifting", model=folder_or_repo, trust_remote_code=True)

works in a process that has not imported ``mpm_hf``. The pipelines are the installed package's (importing it also
registers the heads, so the model is the package's class too); where ``mpm_hf`` is not installed, ``transformers``
stops before running anything with "This modeling file requires the following packages that were not found in your
environment: mpm_hf. Run `pip install mpm_hf`".
"""

from mpm_hf.pipelines import MPMPoseCompletionPipeline, MPMPoseLiftingPipeline

__all__ = ["MPMPoseCompletionPipeline", "MPMPoseLiftingPipeline"]
