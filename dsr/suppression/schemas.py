"""The API's documents for the suppression list: the address asked about and the answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from dsr.addresses import EMAIL_MAX


class SuppressionCheck(BaseModel):
    """An address the platform is about to send marketing to, or import into a mailing list."""

    model_config = ConfigDict(extra="forbid")

    email: StrictStr = Field(
        min_length=1,
        max_length=EMAIL_MAX,
        description="The address to check; case and surrounding spaces do not matter.",
        examples=["zoe.lefevre@example.org"],
    )


class SuppressionAnswer(BaseModel):
    """Whether marketing must leave the address alone (erased, or objected to marketing)."""

    suppressed: StrictBool = Field(
        description="true: do not send marketing to this address nor import it again."
    )
