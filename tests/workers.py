"""A `flask worker` process on the test app's database and queue (what runs jobs in production)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

from flask import Flask

from tests.conftest import REPO_ROOT, TEST_ENCRYPTION_KEY, TEST_SECRET


class Worker:
    def __init__(self, app: Flask) -> None:
        env = os.environ | {
            "FLASK_APP": "webapp",
            "OKG_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "OKG_JOBS_URL": app.config["JOBS_URL"],
            "OKG_SECRET_KEY": TEST_SECRET,
            "OKG_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
            "OKG_KEYCLOAK_MEMBERS_PAGE_SIZE": "50",
        }
        # A file, not a pipe: a full pipe would block the worker. Closed with the object.
        self.output = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self, sig: int = signal.SIGINT) -> str:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.output.seek(0)
        return self.output.read()
