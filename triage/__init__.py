"""triage: which layer regressed after a platform upgrade?"""

__version__ = "0.1.0"
