"""Anomaly call-outs: the pure detector (detector.py), its record encoding (records.py), the
offline replay hook and the live service."""
