"""neurodelay: spiking networks with learnable synaptic delays, from GPU training to neuromorphic chips."""

__version__ = "0.1.0"
