"""The email outbox: every message is stored first and delivered with retries, never lost."""
