"""The I/O a run does for its rules: facts read from the PostgreSQL server and the file system
after the workload ended (the rules themselves only judge the facts they are given)."""

from withscope.core.probes.postgres import gather_db_facts, terminate_backends
from withscope.core.probes.tempfiles import existing_paths

__all__ = ["existing_paths", "gather_db_facts", "terminate_backends"]
