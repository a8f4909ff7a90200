"""The VibeCode bot platform client: the only code that knows the platform's wire format."""

from botcore.vibe.attach import Attach, AttachError, GridItem
from botcore.vibe.budget import NoBudget, Priority, RequestBudget, SharedBudget, budget_for_key
from botcore.vibe.client import VibeClient
from botcore.vibe.errors import (
    VibeApiError,
    VibeAuthError,
    VibeBadRequestError,
    VibeBotAlreadyExistsError,
    VibeBudgetTimeoutError,
    VibeConflictError,
    VibeError,
    VibeForbiddenError,
    VibeNotFoundError,
    VibeProtocolError,
    VibeRateLimitError,
    VibeServerError,
    VibeSessionExpiredError,
    VibeTransportError,
    raise_for_response,
)
from botcore.vibe.events import (
    BotDeleteEvent,
    BotEvent,
    ChatEvent,
    CommandAddEvent,
    ContextGetEvent,
    EventBot,
    EventChat,
    EventCommand,
    EventMessage,
    EventType,
    EventUser,
    JoinChatEvent,
    MalformedEventError,
    MessageAddEvent,
    MessageDeleteEvent,
    MessageUpdateEvent,
    ReactionChangeEvent,
    UnknownEvent,
    parse_event,
)
from botcore.vibe.keyboards import Keyboard, KeyboardError
from botcore.vibe.models import (
    Bot,
    BotDetails,
    Chat,
    Command,
    EventBatch,
    FileDownload,
    Message,
    MessageContext,
    PortalUser,
    Revision,
    SentMessage,
    UploadedFile,
)
from botcore.vibe.transport import RetryClass

__all__ = [
    "Attach", "AttachError", "GridItem", "Keyboard", "KeyboardError",
    "NoBudget", "Priority", "RequestBudget", "SharedBudget", "budget_for_key",
    "VibeClient", "RetryClass",
    "VibeError", "VibeTransportError", "VibeApiError", "VibeAuthError", "VibeSessionExpiredError",
    "VibeForbiddenError", "VibeNotFoundError", "VibeConflictError", "VibeBotAlreadyExistsError",
    "VibeBadRequestError", "VibeRateLimitError", "VibeBudgetTimeoutError", "VibeServerError",
    "VibeProtocolError", "raise_for_response",
    "EventType", "BotEvent", "ChatEvent", "MessageAddEvent", "MessageUpdateEvent", "MessageDeleteEvent",
    "JoinChatEvent", "BotDeleteEvent", "ContextGetEvent", "CommandAddEvent", "ReactionChangeEvent",
    "UnknownEvent", "EventBot", "EventChat", "EventCommand", "EventMessage", "EventUser",
    "MalformedEventError", "parse_event",
    "Bot", "BotDetails", "Chat", "Command", "EventBatch", "FileDownload", "Message", "MessageContext",
    "PortalUser", "Revision", "SentMessage", "UploadedFile",
]  # fmt: skip
