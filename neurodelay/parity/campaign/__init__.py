"""Parity campaigns at scale: ``neurodelay parity --campaign N --target T --out DIR``.

Seeded random networks drawn to reach each target's corner cases (:mod:`.distribution`), run in
worker processes several per executor run (:mod:`.runner`, :mod:`.driver`), each network's record
appended as soon as its chunk ends so a killed campaign resumes where it stopped (:mod:`.store`),
with the corners each run exercised measured from the run (:mod:`.coverage`) and a summary of
coverage, throughput and reproducible mismatch cases (:mod:`.summary`). docs/parity_campaigns.md
describes the distribution and the corners.
"""
