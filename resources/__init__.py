"""Files shipped with the app: rules, icons, templates, stylesheet (importable as triage_app.resources)."""
