"""The reference server with variants as an external process, for runs that certify it as a stranger.

`ExternalServer(variants)` starts a child Python that calls `serve(...)` here with the variant
names as Python values (no command line of the product can name one), waits for it to print
`listening on URL`, and reads the target file it wrote. The suite then runs against that target
like against any server we did not write: decisions are INFO, not requirements.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

__all__ = ["ROOT", "ExternalServer", "serve"]

ROOT = Path(__file__).resolve().parents[1]
# Background work made quick, as the bundled server's: the sweeper and webhook retries in tenths.
FAST: dict[str, Any] = {"sweep_interval": 0.1, "webhook_backoff": 0.05, "webhook_backoff_cap": 0.2}


def serve(variants: Iterable[str], target_out: str, db: str = ":memory:") -> None:
    """Serve a reference server with `variants` on a free port until interrupted (in the child)."""
    import uvicorn

    from reference_impl.accounts import target_mapping
    from reference_impl.app import create_app
    from reference_impl.context import DEFAULT_API_VERSION
    from reference_impl.embedded import bind, uvicorn_config
    from reference_impl.runtime import Runtime

    app = create_app(db=db, variants=frozenset(variants), **FAST)
    runtime: Runtime = app.state.runtime
    sock = bind("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    base_url = f"http://{host}:{port}"
    target = target_mapping("reference-server (variants)", base_url, runtime.service.accounts.all, DEFAULT_API_VERSION)
    Path(target_out).write_text(yaml.safe_dump(target, sort_keys=False), encoding="utf-8")
    print(f"listening on {base_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(uvicorn_config(app)).run(sockets=[sock])
    runtime.close()


class ExternalServer:
    def __init__(self, variants: Iterable[str]) -> None:
        self.variants = tuple(sorted(variants))
        self._dir = tempfile.TemporaryDirectory(prefix="spt-variant-server-")
        target_file = Path(self._dir.name) / "target.yaml"
        self.log = Path(self._dir.name) / "server.log"
        code = f"from harness.server import serve; serve({list(self.variants)!r}, {str(target_file)!r})"
        with self.log.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the variant server did not start: {line!r} {self.log.read_text(errors='replace')}")
        self.url = line.split()[-1]
        self.target: dict[str, Any] = yaml.safe_load(target_file.read_text(encoding="utf-8"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
        self._dir.cleanup()

    def __enter__(self) -> ExternalServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
