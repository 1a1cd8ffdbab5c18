"""The playbook engine: load, validate, match, explain."""

from bot.playbooks.loader import cached, cached_context, load_all, load_context, load_file
from bot.playbooks.matcher import Engine, Found, ScanResult
from bot.playbooks.model import SERVICES, Playbook

__all__ = ["Engine", "Found", "Playbook", "ScanResult", "SERVICES", "cached", "cached_context", "load_all", "load_context", "load_file"]
