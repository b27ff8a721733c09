"""Run configs: pydantic sections per stage (`sections`), YAML + overrides (`loading`), stage identities.

A run is one YAML file plus `key.sub=value` overrides; every stage reads its own section. `stage_identity`
says which fields decide a stage's output (build / train / recaption resume, dataset keys, run fingerprints).
"""

from synthmphn.config.identity import (
    STAGE_SECTIONS,
    flatten_config,
    identity_differences,
    identity_of,
    output_neutral_fields,
    stage_identity,
)
from synthmphn.config.loading import (
    ConfigError,
    apply_override,
    config_to_dict,
    load_config,
    parse_override,
    validate_config,
)
from synthmphn.config.sections import (
    EXECUTION,
    LOCATION,
    RESUMABLE,
    CaptionsConfig,
    CurveConfig,
    DiffusersConfig,
    EvalConfig,
    HardnessConfig,
    ImagesConfig,
    ModelConfig,
    OutputConfig,
    RecaptionConfig,
    RunConfig,
    ScheduleConfig,
    ShardsConfig,
    SimulateConfig,
    SplitsConfig,
    StrictModel,
    TrainConfig,
    UserDatasetConfig,
)

__all__ = [
    "EXECUTION",
    "LOCATION",
    "RESUMABLE",
    "STAGE_SECTIONS",
    "CaptionsConfig",
    "ConfigError",
    "CurveConfig",
    "DiffusersConfig",
    "EvalConfig",
    "HardnessConfig",
    "ImagesConfig",
    "ModelConfig",
    "OutputConfig",
    "RecaptionConfig",
    "RunConfig",
    "ScheduleConfig",
    "ShardsConfig",
    "SimulateConfig",
    "SplitsConfig",
    "StrictModel",
    "TrainConfig",
    "UserDatasetConfig",
    "apply_override",
    "config_to_dict",
    "flatten_config",
    "identity_differences",
    "identity_of",
    "load_config",
    "output_neutral_fields",
    "parse_override",
    "stage_identity",
    "validate_config",
]
