"""Events billing consumes. Each capability registers its handlers here from its own `handlers.py`."""

from shared.bus.consumer import Handlers

handlers = Handlers("billing")
