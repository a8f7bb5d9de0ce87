"""EventProp with learnable synaptic delays: torch forward pass, adjoint backward pass, losses.

- :class:`DelayNetwork`: an IR network as a ``torch.nn.Module`` (trainable ``weights``/``delays``).
- :mod:`~neurodelay.engine.losses`: ``make_loss(name)``, ``spike_count_regularizer``.
- :func:`loss`, :func:`loss_and_gradients`: the same on IR networks and numpy arrays.

Kernels are pure functions (:func:`~neurodelay.engine.forward.simulate`,
:func:`~neurodelay.engine.adjoint.adjoint`); the module and the autograd function are thin wrappers.
"""

from . import losses
from .functional import Gradients, loss, loss_and_gradients
from .module import DelayNetwork, EngineOutput

__all__ = ["DelayNetwork", "EngineOutput", "losses", "loss", "loss_and_gradients", "Gradients"]
