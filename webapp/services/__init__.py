"""The rules of the product, shared by the web UI, the JSON API and the CLI.

One package per capability, each holding its rules and its queries, importing only those below it (the layers
contract of pyproject.toml): jobs.core -> plans -> memberships -> groups -> connection | accounts, with the
job-kind registry (jobs.kinds) under every capability that defines a kind. The modules at this level are the
shared kernel they all use (errors, commands, access, audit, locks, scoping, lookups, naming, uuids), and
loader (flask load-data), which stands beside jobs.core.
"""
