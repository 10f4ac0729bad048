"""nukiflow: reliable changes to Nuki smart locks, as durable Temporal workflows."""

__version__ = "0.1.0"
