"""A worker process for test_outbox.py: delivers one outbox row through a `log` channel that hands the
message to the sink and then hangs (as a worker would when its process dies before it could mark the
row delivered), until the test kills it with SIGKILL.

    python -m gridgov.core.tests.outbox_worker <database name> <outbox id> <flag file> <lease seconds>
"""

from __future__ import annotations

import os
import sys
import time

import django


def main() -> None:
    database, message_id, flag, lease = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings")
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = database  # the test's database, before any connection
    django.setup()
    from gridgov.core import outbox

    sink = outbox.channel("log")

    def deliver_then_hang(message, key: str) -> None:
        sink(message, key)  # the recipient has it …
        with open(flag, "w") as f:  # … the test is told …
            f.write(key)
        while True:  # … and the worker never comes back to mark it delivered
            time.sleep(0.5)

    outbox.register_channel("log", deliver_then_hang)
    outbox.deliver(message_id, lease_seconds=lease)


if __name__ == "__main__":
    main()
