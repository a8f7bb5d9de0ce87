"""Interchange with other tools' network formats (NIR: :mod:`neurodelay.interchange.nir`)."""
