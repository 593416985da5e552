"""Events occupants consumes. Each capability registers its handlers here from its own `handlers.py`."""

from collections.abc import Callable

from psp.billing.v1.events_pb2 import ChargesSettled

from shared.bus.consumer import Handler, Handlers

handlers = Handlers("occupants")

# Billing settles the charges of several capabilities (move-in, decoration) with one event type, and an
# event type has one route: each capability registers for its own purpose with `on_charges_settled`.
_settled_by_purpose: dict[str, Handler] = {}


def on_charges_settled(purpose: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if purpose in _settled_by_purpose:
            raise ValueError(f"charges settled for {purpose!r} are handled twice")
        _settled_by_purpose[purpose] = handler
        return handler

    return register


@handlers.on(ChargesSettled)
def _charges_settled(session, event) -> None:
    handler = _settled_by_purpose.get(event.payload.purpose)
    if handler is not None:
        handler(session, event)
