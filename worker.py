"""Run a nukiflow worker: `python worker.py` (settings from NUKIFLOW_* environment variables)."""

from nukiflow.cli import main

if __name__ == "__main__":
    main(["worker"])
