"""Training: experiment configs, the network builder, the trainer, checkpoints, data parallelism."""

from .config import ExperimentConfig, config_from_dict, load_config
from .python_data import train_on
from .trainer import RunOptions, Trainer, train

__all__ = ["ExperimentConfig", "load_config", "config_from_dict", "RunOptions", "Trainer", "train", "train_on"]
