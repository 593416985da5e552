"""The embedded bus: kombu's filesystem transport, changed so that a worker that dies loses nothing it held.

kombu's own transport deletes a message's file as it hands the message out and keeps the message only in
the consumer's memory until the ack, so a worker killed with SIGKILL would take what it held with it.
Here the file moves into the reading process's folder under `held/` and is deleted at the ack, or once a
requeue has put a copy back in the queue. Each such folder has a lock file its process keeps locked, and
the kernel drops that lock when the process dies, however it dies: a channel that starts reading first
puts back into their queues the messages of every folder whose lock it can take. A message is written
under `incoming/` and renamed into its queue, so no reader ever takes half a file.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

FOLDERS = ("queues", "held", "incoming", "control")


def transport_options(folder: Path) -> dict:
    """The options for a bus kept under `folder`, whose subfolders are created here."""
    for sub in FOLDERS:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queues"),
        "data_folder_out": str(folder / "queues"),
        "held_folder": str(folder / "held"),
        "incoming_folder": str(folder / "incoming"),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.1,
    }


class _Holder:
    """This process's folder under `held/`, beside a lock file locked for as long as the process lives."""

    def __init__(self, held: Path, incoming: Path):
        self.pid = os.getpid()
        name = uuid.uuid4().hex
        staged = incoming / f"{name}.lock"
        self._lock = open(staged, "wb")  # kept open: closing it would drop the lock
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        os.replace(staged, held / f"{name}.lock")  # only ever seen locked
        self.folder = held / name
        self.folder.mkdir()


_holders: dict[Path, _Holder] = {}  # by held/ folder: one per bus this process reads


def _this_process(held: Path, incoming: Path) -> _Holder:
    holder = _holders.get(held)
    if holder is None or holder.pid != os.getpid():  # a forked child holds its own
        holder = _holders[held] = _Holder(held, incoming)
    return holder


class Channel(filesystem.Channel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._queues = Path(self.data_folder_in)
        self._held_folder = Path(self.transport_options["held_folder"])
        self._incoming = Path(self.transport_options["incoming_folder"])
        self._held: dict[str, Path] = {}  # delivery tag -> the message's file under held/
        self._recovered = False

    def _put(self, queue, payload, **kwargs):
        # kombu's own name: the time first, so that reading in name order is reading in order.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        staged = self._incoming / name
        staged.write_bytes(str_to_bytes(dumps(payload)))
        os.replace(staged, self._queues / name)

    def _get(self, queue):
        if not self._recovered:
            self._recovered = True
            _recover_orphans(self._held_folder, self._queues)
        mine = _this_process(self._held_folder, self._incoming).folder
        for name in sorted(os.listdir(self._queues)):
            if name.partition(".")[2] != f"{queue}.msg":  # kombu's naming: <time>_<uuid>.<queue>.msg
                continue
            try:
                os.rename(self._queues / name, mine / name)
            except FileNotFoundError:
                continue  # another reader took it first
            payload = loads(bytes_to_str((mine / name).read_bytes()))
            self._held[payload["properties"]["delivery_tag"]] = mine / name
            return payload
        raise Empty()

    def basic_get(self, queue, no_ack=False, **kwargs):
        message = super().basic_get(queue, no_ack, **kwargs)
        if message is not None and no_ack:
            self._release(message.delivery_tag)
        return message

    def basic_consume(self, queue, no_ack, callback, consumer_tag, **kwargs):
        if no_ack:
            deliver = callback

            def callback(message):
                self._release(message.delivery_tag)
                return deliver(message)

        return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple)
        self._release(delivery_tag)

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue)  # a requeue has written the copy by now
        self._release(delivery_tag)

    def _restore(self, message):
        """A clean stop (and a requeue) puts a message back as a new file; the held one goes."""
        super()._restore(message)
        self._release(message.delivery_tag)

    def _release(self, delivery_tag: str) -> None:
        held = self._held.pop(delivery_tag, None)
        if held is not None:
            held.unlink(missing_ok=True)


class Transport(filesystem.Transport):
    Channel = Channel


def _recover_orphans(held: Path, queues: Path) -> None:
    """Put back what processes that are gone held. A message keeps its name, and so its place in the order."""
    for lock_path in held.glob("*.lock"):
        try:
            lock = open(lock_path, "ab")
        except FileNotFoundError:
            continue  # another reader recovered it meanwhile
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process lives
            folder = lock_path.with_suffix("")
            if folder.is_dir():
                for orphan in folder.iterdir():
                    os.replace(orphan, queues / orphan.name)
                folder.rmdir()
            lock_path.unlink(missing_ok=True)
