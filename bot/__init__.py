"""triage: diagnose failing ML platform jobs, endpoints and trainings."""

__version__ = "0.1.0"
