"""Retention sweeps from the data map (R30, R31): warn inactive account holders, then expire."""
