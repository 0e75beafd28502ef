"""Rules: the condition language of clauses (``conditions``, the pure matcher) and the
durable-rules adapter that runs it (``durable``)."""
from .durable import session_stats

__all__ = ["session_stats"]
