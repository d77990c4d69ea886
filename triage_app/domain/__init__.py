"""Pure Python domain: the referral, the triage rules and the workflow. No Qt, no SQL."""
