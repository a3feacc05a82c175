"""What a request's page shows of the channel it came by (R44): how it was received, how its
answer goes, the contact details given, and, for a request answered by post once its answer is
ready (or its refusal decided), the form to record the day it was posted (`channel_views`)."""

from __future__ import annotations

from dataclasses import dataclass

from dsr.dashboard.channel_forms import AnswerPostedForm
from dsr.requests.models import AnswerChannel, Channel, DataRequest
from dsr.requests.workflow import Status


@dataclass
class ChannelPanel:
    channel: Channel
    answer_channel: AnswerChannel
    contact: str | None
    posted_form: AnswerPostedForm | None = None
    letter: bool = False  # the answer letter can be printed (`channel_views.answer_letter`)

    @property
    def by_post(self) -> bool:
        return self.answer_channel is AnswerChannel.POST


def channel_panel(
    data_request: DataRequest, *, acting: bool, bound: AnswerPostedForm | None = None
) -> ChannelPanel:
    """Gather the request's channels and, for `acting` staff when its answer is ready to post,
    the form to record the posting (`bound`: the one just posted, with its errors)."""
    panel = ChannelPanel(
        channel=data_request.created_via,
        answer_channel=data_request.answer_channel,
        contact=data_request.contact_details,
        letter=acting
        and data_request.answer_channel is AnswerChannel.POST
        and bool(data_request.answer_letter),
    )
    refusal_unposted = data_request.status is Status.DENIED and data_request.answered_at is None
    if (
        acting
        and panel.by_post
        and (data_request.status is Status.READY_TO_SEND or refusal_unposted)
    ):
        panel.posted_form = bound or AnswerPostedForm(
            data={"version_id": str(data_request.version_id)}
        )
    return panel
