"""Publishing MPM checkpoints on the Hugging Face Hub: model cards, checks of what is uploaded, and the upload.

    from mpm_hf.hub import generate_model_card, push_model_to_hub

    card = generate_model_card(model, repo_id="my-org/mpm-h36m-243", results=report)  # README.md text
    commit = push_model_to_hub("converted/mpm-h36m-243", "my-org/mpm-h36m-243")      # weights + card, one commit

One module per job: ``card`` (the card and its Hub metadata, from the template ``model_card_template.md``),
``eval_results`` (evaluation reports -> model-index and table), ``licences`` (training corpora and their terms),
``folders`` (checkpoint folders and JSON files read from disk), ``upload`` (the commit to the Hub).
"""

from .card import LIBRARY_NAME, PIPELINE_TAGS, TAGS, TEMPLATE, build_model_card, generate_model_card
from .eval_results import EVAL_RESULTS_FILE
from .folders import read_json_file, read_model_folder_config
from .upload import push_model_to_hub

__all__ = [
    "EVAL_RESULTS_FILE",
    "LIBRARY_NAME",
    "PIPELINE_TAGS",
    "TAGS",
    "TEMPLATE",
    "build_model_card",
    "generate_model_card",
    "push_model_to_hub",
    "read_json_file",
    "read_model_folder_config",
]
