"""Validation against real polls: observation operators, calibration and the backtest.

- :mod:`sim.validation.observe` measures simulated citizens the way each poll instrument asks (question,
  fieldwork months, age filter, series breaks) and reads ``polls_calibration.csv``;
- :mod:`sim.validation.calibrate` fits a few named parameters to the polls (least squares on the mean of
  replications with common random numbers) and records the fit with its provenance;
- :mod:`sim.validation.backtest` runs the historical scenario many times and sets the simulated bands beside
  the observed values, with errors reported separately for training and test years.

The fitted values live in ``sim/validation/calibrated.yaml`` (see docs/validation.md).
"""
