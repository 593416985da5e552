"""The events notifications consumes: each capability registers its handlers here (see service.py)."""

from shared.bus.consumer import Handlers

handlers = Handlers("notifications")
