"""Policies: the SLA's terms as versioned YAML, and everything done to them before evaluation.

``model`` (a version and the directory of versions), ``load`` (YAML with positions), ``schema/``,
``lint``, ``diff`` and ``redline``, ``lock`` and ``publish``, ``examples`` (the rule examples
inside the clauses), ``render`` and ``terms`` (what ``slapolicy render`` and ``show`` print).
"""
from .directory import PolicyDirectory, load_policy, read_policy
from .model import Policy, schema

__all__ = ["Policy", "PolicyDirectory", "load_policy", "read_policy", "schema"]
