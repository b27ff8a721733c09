"""Models: open_clip with our tiny JSON configs, checkpoints anyone can load, and the eval encoder.

Importing this package registers `models/configs/*.json` with `open_clip.add_model_config`, so
`open_clip.create_model_and_transforms("synth-tiny-vit")` works once `synthmphn.models` is imported.
"""

from synthmphn.models.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from synthmphn.models.encoder import ClipEncoder
from synthmphn.models.factory import (
    CONFIG_DIR,
    ClipParts,
    create_clip,
    describe_model,
    describe_models,
    register_model_configs,
    tiny_model_names,
)

register_model_configs()

__all__ = [
    "CONFIG_DIR",
    "ClipEncoder",
    "ClipParts",
    "create_clip",
    "describe_model",
    "describe_models",
    "load_checkpoint",
    "model_from_checkpoint",
    "register_model_configs",
    "save_checkpoint",
    "tiny_model_names",
]
