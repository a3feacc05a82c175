"""Possible mentions of a subject in other people's text, and staff's decision on each."""
