"""Plumbing every DocStore service shares: settings base, observability, health, errors."""
