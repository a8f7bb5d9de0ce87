"""Training data: the common :class:`Dataset` shape, a seeded batch sampler, and the task generators.

Every task yields a :class:`DataSplits` of :class:`Dataset` objects whose ``inputs`` are bool spike
rasters ``[n_samples, steps, n_inputs]`` on the run's timestep ``dt_ms`` and whose ``labels`` are
int64 ``[n_samples]``. Tasks are looked up by name in :data:`TASKS`.
"""

from .dataset import BatchSampler, Dataset, DataSplits
from .tasks import TASKS, TaskSpec, load_task

__all__ = ["Dataset", "DataSplits", "BatchSampler", "TASKS", "TaskSpec", "load_task"]
