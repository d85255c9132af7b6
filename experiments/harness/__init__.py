"""The shared experiment harness: sweeps, results folders, probes and figures.

A workload script (``experiments/fanout.py``, ``experiments/chain.py``)
describes what to run once; the harness runs it for every scheduler and
worker count, each measurement in a fresh subprocess, and writes tidy CSVs,
``meta.json`` and figures into ``results/<workload>-<timestamp>/``.
"""
