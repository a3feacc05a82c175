"""Reusable answer templates: texts admins prepare for staff's questions to requesters and for
refusals, per request type and language (`models`, `service`)."""
