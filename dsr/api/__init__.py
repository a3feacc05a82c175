"""The JSON API the organisation's own systems use to file and follow requests."""
