"""Shared test helpers: signing transactions with the dev accounts."""
