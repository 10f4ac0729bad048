"""Typed models: the Nuki wire models and the workflow inputs and results."""
