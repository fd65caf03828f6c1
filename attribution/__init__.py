"""Proof of Attribution: how much each data contribution influenced an answer, and the rewards."""
