"""Background jobs on Huey: the queue carries job uuids, the `job` table says what happened (services/jobs/core.py)."""
