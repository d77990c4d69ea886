"""SPD referral triage: queue, scoring against the NICE-derived rules, and MDT agendas."""

__version__ = "0.1.0"
