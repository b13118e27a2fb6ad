"""civic: a municipality's citizen-contact service as a set of department plugins."""

from importlib.metadata import PackageNotFoundError, version

from civic.hookspecs import hookimpl
from civic.values import (
    Answer,
    Choice,
    Conversation,
    Department,
    HandOver,
    Identity,
    Inbound,
    NotIdentified,
    Processing,
    Reply,
    StartForm,
    Topic,
)

try:
    __version__ = version("civic")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "Answer",
    "Choice",
    "Conversation",
    "Department",
    "HandOver",
    "Identity",
    "Inbound",
    "NotIdentified",
    "Processing",
    "Reply",
    "StartForm",
    "Topic",
    "__version__",
    "hookimpl",
]
