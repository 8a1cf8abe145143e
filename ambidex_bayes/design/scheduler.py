"""Check a Dask scheduler address before a run depends on it.

Two checks, both bounded in time:

* :func:`check_scheduler_address` reads the address only: a scheme Dask cannot speak
  (``http://``, ``foo://``) or a missing port is refused before anything starts.
* :func:`probe_scheduler` connects and asks the other end who it is. Something that is not a
  Dask scheduler (a web server, a database, a program that never answers) is refused within
  the timeout, instead of the client waiting forever or failing deep in its message decoder.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from typing import Any

from ambidex_bayes.errors import AmbidexError

__all__ = ["SchedulerError", "SCHEMES", "check_scheduler_address", "probe_scheduler"]

#: Schemes of a remote Dask scheduler address (a bare ``HOST:PORT`` means ``tcp``).
SCHEMES = ("tcp", "tls", "ws", "wss")

_WHAT_TO_DO = (
    "Give the address the scheduler prints when it starts (e.g. tcp://10.0.0.5:8786), use "
    "--scheduler serial to run in this process, or leave --scheduler out for a local cluster."
)


class SchedulerError(AmbidexError):
    """A scheduler address that is malformed, unreachable or not a Dask scheduler."""


def check_scheduler_address(address: str) -> str:
    """The address with its scheme (``tcp://`` when none is given), or SchedulerError.

    Parameters
    ----------
    address : str
        ``SCHEME://HOST:PORT`` or ``HOST:PORT``.
    """
    text = str(address).strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    if scheme.lower() not in SCHEMES:
        raise SchedulerError(
            f"Scheduler address {address!r}: Dask schedulers are reached over "
            f"{', '.join(s + '://' for s in SCHEMES)}, not {scheme}://. {_WHAT_TO_DO}"
        )
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d{1,5})", rest)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise SchedulerError(
            f"Scheduler address {address!r} is not HOST:PORT (a port from 1 to 65535 is "
            f"needed, a Dask scheduler listens on 8786 by default). {_WHAT_TO_DO}"
        )
    return f"{scheme.lower()}://{rest}"


async def _identity(address: str, timeout: float) -> Any:
    from distributed.comm import connect
    from distributed.security import Security

    # the client's own security settings (Dask's configuration), as Client() uses them
    args = Security().get_connection_args("client")
    comm = await connect(address, timeout=timeout, **args)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def _run_bounded(address: str, timeout: float) -> Any:
    """Ask ``address`` for its identity in a fresh event loop on its own thread."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["reply"] = asyncio.run(asyncio.wait_for(_identity(address, timeout), timeout))
        except (OSError, TimeoutError, EOFError, ValueError, TypeError, MemoryError) as err:
            outcome["error"] = err

    thread = threading.Thread(target=target, name="scheduler-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)
    if thread.is_alive():
        outcome["error"] = TimeoutError(f"no answer within {timeout:g} s")
    return outcome


def probe_scheduler(address: str, *, timeout: float = 20.0) -> dict[str, Any]:
    """Connect to ``address`` and check that a Dask scheduler answers, within ``timeout``.

    Returns
    -------
    dict
        The scheduler's identity (its ``type``, ``id``, ``address``, workers).

    Raises
    ------
    SchedulerError
        The address is malformed, nothing listens there, or what answers (or stays silent)
        is not a Dask scheduler.
    """
    full = check_scheduler_address(address)
    host, _, port = full.partition("://")[2].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=float(timeout)):
            pass
    except OSError as err:
        raise SchedulerError(
            f"Cannot reach the Dask scheduler at {address!r} ({err.strerror or err}). Check the "
            f"address and that the scheduler is running. {_WHAT_TO_DO}"
        ) from None
    outcome = _run_bounded(full, float(timeout))
    error = outcome.get("error")
    if isinstance(error, TimeoutError):
        raise SchedulerError(
            f"No Dask scheduler answered at {address!r} within {timeout:g} s: something "
            "there accepts connections but does not speak Dask's protocol, or the scheduler "
            f"is overloaded. Check the host and port. {_WHAT_TO_DO}"
        )
    if isinstance(error, OSError):
        raise SchedulerError(
            f"What answers at {address!r} is not a Dask scheduler: it dropped the connection "
            f"({type(error).__name__}). Check the host and port. {_WHAT_TO_DO}"
        )
    if error is not None:
        raise SchedulerError(
            f"What answers at {address!r} is not a Dask scheduler (its reply could not be "
            f"read: {type(error).__name__}). Check the host and port. {_WHAT_TO_DO}"
        )
    reply = outcome.get("reply")
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        raise SchedulerError(
            f"What answers at {address!r} is not a Dask scheduler (it says it is {kind!r}). "
            f"Check the host and port. {_WHAT_TO_DO}"
        )
    return reply
