"""Problems of the channels, each with its HTTP status."""

from __future__ import annotations

from services.common.errors import Conflict, InvalidInput, NotFound, ProblemError


class UnsupportedMediaType(ProblemError):
    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"


class PayloadTooLarge(ProblemError):
    status, title, type_slug = 413, "Payload too large", "payload-too-large"


class NotAnEmail(InvalidInput):
    pass


class EventNotFound(NotFound):
    def __init__(self, event_id: str) -> None:
        super().__init__(f"No event {event_id}.")


class ArticleNotFound(NotFound):
    def __init__(self, article_id: str) -> None:
        super().__init__(f"No help article {article_id}.")


class AttachmentNotFound(NotFound):
    def __init__(self, attachment_id: str) -> None:
        super().__init__(f"No attachment {attachment_id}.")


class CustomerNotFound(NotFound):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"No customer {customer_id}.")


class ChangeLinkInvalid(ProblemError):
    """Unknown, used, expired or someone else's link: the change is not applied."""

    status, title, type_slug = 410, "Link no longer valid", "link-invalid"


class ChangeRefused(Conflict):
    pass
