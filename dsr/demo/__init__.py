"""The demo learner platform: a realistic schema and deterministic synthetic learners."""
