"""The estimators: memory, speed, load and cost of one configuration, each formula once, and their calibration."""
