"""The outbox tests' SMTP server fixtures (the suite-wide conftest may import them too)."""

from tests.smtp_server import smtp_server, smtp_tls_files

__all__ = ["smtp_server", "smtp_tls_files"]
