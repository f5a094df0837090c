"""Run the sandbox's emulated clouds until stopped: `python -m cloudrun.sandbox.serve INFO_FILE`.

Started in the background by `cloudrun sandbox start`; writes the endpoints and its pid to INFO_FILE
once they accept connections, and removes the file when it stops (SIGTERM or Ctrl-C).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from cloudrun.sandbox import aws, clouds

STARTUP_ENV = "CLOUDRUN_SANDBOX_STARTUP_S"  # how long new endpoints stay Creating (default 3 s)


def main(info_file: Path) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sandbox = clouds.start(startup_s=float(os.environ.get(STARTUP_ENV, "3")))
    aws.seed_chat_replies(sandbox.info["aws"], "sandbox", count=200)
    tmp = info_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({**sandbox.info, "pid": os.getpid()}))
    tmp.replace(info_file)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        info_file.unlink(missing_ok=True)
        sandbox.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
