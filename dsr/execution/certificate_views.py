"""The page that hands a requester their erasure certificate, reached by the secret link of the
email that announced the erasure (only the token's SHA-256 is stored). The certificate names no
one, so the link needs no second factor; it works as long as the certificate is kept."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_file
from sqlmodel import select
from werkzeug.wrappers import Response

from dsr.accounts.access import public_blueprint
from dsr.db import get_session
from dsr.execution.change_records import ErasureCertificate
from dsr.tokens import token_digest

TOKEN_MAX = 128

blueprint = public_blueprint(Blueprint("certificate", __name__))


@blueprint.get("/certificate/<token>")
def download(token: str) -> Response:
    """Send the certificate whose link holds `token`; 404 for any other token."""
    if not token or len(token) > TOKEN_MAX:
        abort(404)
    certificate = (
        get_session()
        .exec(
            select(ErasureCertificate).where(ErasureCertificate.token_hash == token_digest(token))
        )
        .one_or_none()
    )
    if certificate is None or not Path(certificate.path).is_file():
        abort(404)
    response = send_file(
        certificate.path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=Path(certificate.path).name,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
